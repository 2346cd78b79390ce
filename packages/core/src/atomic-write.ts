import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Temporary files are hidden siblings of their target: `.<name>.<pid>.<random>.tmp`. */
const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]+\.tmp$/;

/**
 * Writes a file so that readers see either the old content or the new, never a partial one:
 * the data goes to a temporary file in the same folder (so the rename cannot cross devices),
 * is flushed to disk, then renamed over the target.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(temp, "wx");
    try {
      await handle.writeFile(data);
      // Without fsync a crash after the rename can leave an empty file under the final name.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/**
 * Removes temporary files left by killed writers. Only files older than `maxAgeMs` go, so a
 * write in flight in another process sharing the folder is never disturbed.
 * Returns how many were removed.
 */
export async function removeStaleTempFiles(dir: string, maxAgeMs = 60 * 60 * 1000): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  for (const name of names) {
    if (!TEMP_FILE.test(name)) continue;
    const file = join(dir, name);
    try {
      if ((await stat(file)).mtimeMs > cutoff) continue;
      await unlink(file);
      removed++;
    } catch (error) {
      // Another process may have renamed or removed it meanwhile.
      if (!isNotFound(error)) throw error;
    }
  }
  return removed;
}

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
