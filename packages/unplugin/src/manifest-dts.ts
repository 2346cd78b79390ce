import { readFile } from "node:fs/promises";
import { type Manifest, manifestDeclarations, manifestDeclarationsPath, writeFileAtomic } from "@imagegen/core";

/**
 * Writes the declarations of a manifest beside it (the plugin's `dts` option). An unchanged file
 * is left alone, so that editors and watchers see no change when the names stay the same.
 */
export async function writeManifestDeclarations(manifest: Manifest): Promise<void> {
  const file = manifestDeclarationsPath(manifest.file);
  const text = manifestDeclarations(manifest);
  if ((await readFile(file, "utf8").catch(() => undefined)) === text) return;
  await writeFileAtomic(file, text);
}
