import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { ImagegenError } from "@imagegen/core";
import type { AssetOutput } from "./asset-output.js";

/** What this output uses of esbuild's `PluginBuild`. */
export interface EsbuildBuildLike {
  initialOptions: { outdir?: string; outfile?: string; publicPath?: string; write?: boolean; absWorkingDir?: string };
  onEnd(callback: (result: { errors: unknown[]; outputFiles?: EsbuildOutputFile[] }) => void | Promise<void>): void;
}

interface EsbuildOutputFile {
  path: string;
  contents: Uint8Array;
  hash: string;
  readonly text: string;
}

/**
 * esbuild has no emitted assets: the images of a build are collected and written into the output
 * folder (`outdir`, or the folder of `outfile`) when the build ends without errors, or added to
 * `outputFiles` with `write: false`. URLs are `publicPath` + the file name; without a
 * `publicPath` they are relative (`./assets/…`), as esbuild's own file loader writes them.
 */
export function esbuildOutput(build: EsbuildBuildLike): AssetOutput {
  const options = build.initialOptions;
  const cwd = options.absWorkingDir ?? process.cwd();
  const outdir = options.outdir ?? (options.outfile ? path.dirname(options.outfile) : undefined);
  let files = new Map<string, { bytes: Uint8Array; hash: string }>();

  build.onEnd(async (result) => {
    if (result.errors.length > 0 || files.size === 0) return;
    const dir = path.resolve(cwd, outdir!);
    for (const [fileName, { bytes, hash }] of files) {
      const target = path.join(dir, ...fileName.split("/"));
      if (options.write === false) {
        result.outputFiles?.push({
          path: target,
          contents: bytes,
          hash,
          get text() {
            return Buffer.from(bytes).toString("utf8");
          },
        });
        continue;
      }
      // The name holds the content hash: a file of that name and size is this image already.
      const existing = await stat(target).catch(() => undefined);
      if (existing?.size === bytes.byteLength) continue;
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, bytes);
    }
  });

  return {
    reset() {
      files = new Map();
    },
    emit(_context, fileName, variant) {
      if (!outdir) throw new ImagegenError("imagegen needs esbuild's `outdir` (or `outfile`) to know where to write images; set one of them.");
      files.set(fileName, { bytes: variant.bytes, hash: variant.hash });
      return JSON.stringify(joinPublicPath(options.publicPath, fileName));
    },
  };
}

function joinPublicPath(publicPath: string | undefined, fileName: string): string {
  if (!publicPath) return `./${fileName}`;
  return publicPath.endsWith("/") ? `${publicPath}${fileName}` : `${publicPath}/${fileName}`;
}
