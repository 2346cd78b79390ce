import { readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { AssetPaths } from "../generate/provider.js";
import { sha256Hex } from "../spec/key.js";
import { isNotFound, writeFileAtomic } from "./atomic-write.js";

/**
 * The API's asset path of each input file uploaded so far, by the file's sha256 and the API's
 * origin: `<store>/assets/<sha256>.<origin hash>.json`. A path is only ever sent to the origin that
 * gave it (an emulator's is never sent to 1min.ai), and one the API failed with is forgotten.
 * Safe to lose: a forgotten or expired path costs one upload. The `<sha256>.json` files of
 * release 0.1 name no origin: they are never read.
 */
export function storeAssetPaths(storeDir: string): AssetPaths {
  const fileOf = (sha256: string, origin: string) => join(storeDir, "assets", `${sha256}.${sha256Hex(origin).slice(0, 12)}.json`);
  return {
    async recall(sha256, origin) {
      let text: string;
      try {
        text = await readFile(fileOf(sha256, origin), "utf8");
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
      try {
        const value = JSON.parse(text) as { path?: unknown; origin?: unknown } | null;
        return typeof value?.path === "string" && value.path !== "" && value.origin === origin ? value.path : undefined;
      } catch {
        return undefined; // a damaged entry is an upload, not an error
      }
    },
    async remember(sha256, origin, path) {
      const entry = { sha256, origin, path, uploadedAt: new Date().toISOString() };
      await writeFileAtomic(fileOf(sha256, origin), `${JSON.stringify(entry, null, 2)}\n`);
    },
    async forget(sha256, origin) {
      await unlink(fileOf(sha256, origin)).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    },
  };
}
