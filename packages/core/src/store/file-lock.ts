import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isNotFound, isProcessAlive, namesIn } from "./atomic-write.js";
import { localProcessSpace, sharesPidsWith, type ProcessSpace } from "./process-identity.js";
import { sleep } from "../abortable-sleep.js";

/** Who holds a lock: the content of its file. Its pid is checked only from the same host, boot and pid namespace. */
export interface LockHolder extends ProcessSpace {
  pid: number;
  /** ISO 8601. */
  createdAt: string;
  /** A random token: tells one taking of the lock from another, by this process or one that had its pid. */
  token: string;
}

export interface FileLockOptions {
  /**
   * A lock file untouched for this long is taken over: its holder died on another host or froze.
   * A live holder touches it every third of this time.
   * @default 30000
   */
  staleMs?: number;
  /**
   * First wait between two tries while another process holds the lock; it doubles up to 500 ms.
   * @default 20
   */
  pollMs?: number;
  /** Stops waiting. */
  signal?: AbortSignal;
  /** Called once, when the lock turns out to be held by a live process. */
  onWait?: (holder: LockHolder | undefined) => void;
}

export interface FileLock {
  /** Removes the lock file, unless another process has taken it over meanwhile. */
  release(): Promise<void>;
}

/** Tokens of the locks this process holds, to tell its own locks from those of a dead process with the same pid. */
const heldTokens = new Set<string>();

/**
 * A lock shared between processes: a file created with O_EXCL that names its holder (pid, host,
 * boot, pid namespace, time, token). A lock whose holder is gone (a dead pid in this host's boot
 * and pid namespace, or a file untouched for `staleMs`) is taken over rather than waited on forever.
 * A holder elsewhere (another machine, or a container sharing this host name) cannot be looked up:
 * its heartbeat alone tells it is alive.
 */
export async function acquireFileLock(path: string, options: FileLockOptions = {}): Promise<FileLock> {
  const staleMs = options.staleMs ?? 30_000;
  let delay = options.pollMs ?? 20;
  let reportedWait = false;
  for (;;) {
    options.signal?.throwIfAborted();
    const holder: LockHolder = {
      pid: process.pid,
      ...localProcessSpace(),
      createdAt: new Date().toISOString(),
      token: randomBytes(8).toString("hex"),
    };
    try {
      await writeFile(path, `${JSON.stringify(holder)}\n`, { flag: "wx" });
      return hold(path, holder, staleMs);
    } catch (error) {
      // The folder is missing: made here rather than before every try (or removed by the last holder of another lock in it).
      if (isNotFound(error)) {
        await mkdir(dirname(path), { recursive: true });
        continue;
      }
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const current = await readLock(path);
    if (current === undefined) continue; // released between our two calls
    if (isStale(current, staleMs)) {
      await takeOver(path, current);
      continue;
    }
    if (!reportedWait) {
      reportedWait = true;
      options.onWait?.(current.holder);
    }
    await sleep(delay, options.signal);
    delay = Math.min(delay * 2, 500);
  }
}

/**
 * Removes the lock files in `dir` whose holder is gone, as a taker would ({@link takeOver}),
 * without taking them: a build killed after it stored an original but before it released that
 * key's lock leaves a lock no later build asks for. A live holder's lock, or one of another
 * machine that is fresher than `staleMs`, stays. Returns how many were removed.
 */
export async function removeStaleLocks(dir: string, staleMs = 30_000): Promise<number> {
  let removed = 0;
  for (const name of (await namesIn(dir)).filter((entry) => entry.endsWith(".lock"))) {
    const path = join(dir, name);
    const current = await readLock(path);
    if (!current || !isStale(current, staleMs)) continue;
    await takeOver(path, current);
    removed++;
  }
  return removed;
}

/** Runs `work` while holding the lock at `path`. */
export async function withFileLock<T>(path: string, work: () => Promise<T>, options?: FileLockOptions): Promise<T> {
  const lock = await acquireFileLock(path, options);
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

function hold(path: string, holder: LockHolder, staleMs: number): FileLock {
  heldTokens.add(holder.token);
  // A long generation keeps its lock fresh, so that only a holder that stopped running looks stale.
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, Math.max(10, Math.floor(staleMs / 3)));
  heartbeat.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      heldTokens.delete(holder.token);
      const current = await readLock(path);
      if (current?.holder?.token === holder.token) await unlink(path).catch(ignoreNotFound);
    },
  };
}

interface LockState {
  /** Undefined while the holder is still writing it, or when it is damaged. */
  holder: LockHolder | undefined;
  mtimeMs: number;
}

async function readLock(path: string): Promise<LockState | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    return { holder: parseHolder(text), mtimeMs: info.mtimeMs };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === "number" && typeof value.hostname === "string" && typeof value.token === "string") {
      return value as LockHolder;
    }
  } catch {
    // being written, or damaged: only its age can tell
  }
  return undefined;
}

function isStale({ holder, mtimeMs }: LockState, staleMs: number): boolean {
  if (Date.now() - mtimeMs > staleMs) return true;
  if (holder === undefined || !sharesPidsWith(holder)) return false;
  // Our own pid but a token we do not hold: left by an earlier process that had the same pid.
  if (holder.pid === process.pid) return !heldTokens.has(holder.token);
  return !isProcessAlive(holder.pid);
}

/**
 * Removes a stale lock, but only the one that was judged stale: it is first moved aside, and if
 * what was moved turns out to be a lock another process took meanwhile, it is put back.
 */
async function takeOver(path: string, seen: LockState): Promise<void> {
  const aside = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  const moved = await readLock(aside);
  const same = moved !== undefined && (seen.holder === undefined ? moved.holder === undefined : moved.holder?.token === seen.holder.token);
  // link() fails if the path was taken again: then that newer lock stands.
  if (!same) await link(aside, path).catch(() => {});
  await unlink(aside).catch(ignoreNotFound);
}

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
