import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const scratch = path.join(path.dirname(fileURLToPath(import.meta.url)), ".tmp");

/**
 * Removes copied fixtures left by earlier runs. Only old ones: another run may be using the
 * folder right now.
 */
export default async function setup() {
  const entries = await readdir(scratch).catch(() => []);
  for (const entry of entries) {
    const dir = path.join(scratch, entry);
    if (Date.now() - (await stat(dir)).mtimeMs > 60 * 60 * 1000) await rm(dir, { recursive: true, force: true });
  }
}
