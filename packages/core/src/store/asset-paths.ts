import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AssetPaths } from "../generate/provider.js";
import { isNotFound, writeFileAtomic } from "./atomic-write.js";

/**
 * The API's asset path of each input file uploaded so far, by the file's sha256:
 * `<store>/assets/<sha256>.json`. Safe to lose: a forgotten or expired path costs one upload.
 */
export function storeAssetPaths(storeDir: string): AssetPaths {
  const fileOf = (sha256: string) => join(storeDir, "assets", `${sha256}.json`);
  return {
    async recall(sha256) {
      let text: string;
      try {
        text = await readFile(fileOf(sha256), "utf8");
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
      try {
        const value: unknown = JSON.parse(text);
        const path = (value as { path?: unknown } | null)?.path;
        return typeof path === "string" && path !== "" ? path : undefined;
      } catch {
        return undefined; // a damaged entry is an upload, not an error
      }
    },
    async remember(sha256, path) {
      const entry = { sha256, path, uploadedAt: new Date().toISOString() };
      await writeFileAtomic(fileOf(sha256), `${JSON.stringify(entry, null, 2)}\n`);
    },
  };
}
