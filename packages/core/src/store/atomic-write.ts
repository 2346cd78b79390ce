import { createHash, randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { localProcessSpace } from "./process-identity.js";

/**
 * Temporary files are hidden siblings of their target: `.<name>.<pid>.<space><random>.tmp`, where
 * `<space>` is 8 hex digits of this machine's name, boot and pid namespace, so that a leftover of a
 * dead writer here can be told from a write in flight on another machine or in another container
 * sharing the folder (whose pids mean nothing here).
 */
const TEMP_FILE = /^\.(.+)\.(\d+)\.([0-9a-f]+)\.tmp$/;
let spaceId: string | undefined;
function localSpaceId(): string {
  const { hostname, bootId = "", pidNamespace = "" } = localProcessSpace();
  spaceId ??= createHash("sha256").update(`${hostname}\0${bootId}\0${pidNamespace}`).digest("hex").slice(0, 8);
  return spaceId;
}

export interface AtomicWriteOptions {
  /**
   * Flush the data to disk before the rename, so that the file survives a power loss or a crash
   * of the machine (the store and the lock). A cache whose entries are checked when read (the
   * derived cache: every variant against its sha256) can do without: a machine crash can leave
   * such a file empty, which reads as a miss, while a killed process still never leaves a partial one.
   * @default true
   */
  durable?: boolean;
}

/**
 * Writes a file so that readers see either the old content or the new, never a partial one:
 * the data goes to a temporary file in the same folder (so the rename cannot cross devices),
 * is flushed to disk (unless not `durable`), then renamed over the target.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, { durable = true }: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${localSpaceId()}${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await createFile(temp);
    try {
      await handle.writeFile(data);
      // Without fsync a crash of the machine after the rename can leave an empty file under the final name.
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/** Creates `file` for writing (failing if it exists), and its folder first if that is missing. */
async function createFile(file: string): Promise<FileHandle> {
  try {
    return await open(file, "wx");
  } catch (error) {
    // The folder is made only when missing: a build writes hundreds of files into a few folders.
    if (!isNotFound(error)) throw error;
    await mkdir(dirname(file), { recursive: true });
    return open(file, "wx");
  }
}

/**
 * Removes temporary files left by killed writers: those of a dead process on this machine, and
 * any older than `maxAgeMs`, so a write in flight in another process sharing the folder is never
 * disturbed. With `target`, only the temporary files of that file name. Returns how many were removed.
 */
export async function removeStaleTempFiles(dir: string, maxAgeMs = 60 * 60 * 1000, target?: string): Promise<number> {
  const names = await namesIn(dir);
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  for (const name of names) {
    const match = TEMP_FILE.exec(name);
    if (!match || (target !== undefined && match[1] !== target)) continue;
    const file = join(dir, name);
    const pid = Number(match[2]);
    const deadWriter = match[3]!.startsWith(localSpaceId()) && pid !== process.pid && !isProcessAlive(pid);
    try {
      if (!deadWriter && (await stat(file)).mtimeMs > cutoff) continue;
      await unlink(file);
      removed++;
    } catch (error) {
      // Another process may have renamed or removed it meanwhile.
      if (!isNotFound(error)) throw error;
    }
  }
  return removed;
}

/** Whether a process with this pid runs on this machine. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** The names in a folder; none when it does not exist. */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
