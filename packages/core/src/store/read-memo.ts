import { type Stats, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-write.js";
import type { CachedRendition } from "./derived-cache.js";
import type { OriginalMeta } from "./store.js";

/** Not a rendition: rendition files are named after their 32-hex-digit key. */
export const READ_MEMO_FILE = "reads.json";
const REVISION = 1;

/**
 * How old the recorded use of an entry may get before a build records it again: a rendition's use
 * is the mtime of its `<key>.json` (what `trim` evicts by), set once an hour rather than every build.
 */
export const USE_RECORD_INTERVAL_MS = 60 * 60 * 1000;
/** An entry that no process has used for this long is dropped when the memo is saved. */
const FORGET_AFTER_MS = 30 * 24 * 60 * 60 * 1000;

/** A store metadata file as last read: the identity of the file then (inode, size, mtime), and what it held. */
interface MetaRecord {
  ino: number;
  size: number;
  mtimeMs: number;
  meta: OriginalMeta;
  usedMs: number;
}

/** A derived-cache entry (the JSON of `<key>.json`), and when its use was last recorded on disk. */
interface RenditionRecord {
  entry: CachedRendition;
  usedMs: number;
}

interface MemoFile {
  revision: number;
  metas: Record<string, MetaRecord>;
  renditions: Record<string, RenditionRecord>;
}

/**
 * What the last builds read from the store's metadata and the derived cache's JSON files,
 * remembered in one file, `<cacheDir>/reads.json`: a warm build reads it once where it read two
 * small files per image (of 2,000 images: 4,000 reads become 2,000 `stat`s and one read). Nothing in
 * it is trusted beyond what it saves reading:
 * - a metadata file is taken as remembered only while its inode, size and mtime are the ones it
 *   had when read (an edit, a rewrite, a `git checkout`, a truncation all change them), so a
 *   damaged store is reported as before;
 * - a rendition is taken only when every variant's bytes, read as always, match the sha256 the
 *   entry names, as for `<key>.json` itself.
 * A memo that cannot be read is empty and one that cannot be written is not saved: never an error.
 */
export class ReadMemo {
  readonly #file: string;
  #memo: MemoFile | undefined;
  #changed = false;
  /** Renditions the derived cache evicted: not brought back from another process's save. */
  readonly #forgotten = new Set<string>();

  constructor(cacheDir: string) {
    this.#file = join(cacheDir, READ_MEMO_FILE);
  }

  /** The metadata `file` held when it was read, while `stats` (just taken) say it is the same file, unchanged. */
  meta(file: string, stats: Stats): OriginalMeta | undefined {
    const record = this.#load().metas[file];
    if (!record || record.ino !== stats.ino || record.size !== stats.size || record.mtimeMs !== stats.mtimeMs) return undefined;
    this.#used(record);
    return record.meta;
  }

  /** Records what `file` held; `stats` must have been taken before it was read, so that a later change shows. */
  rememberMeta(file: string, stats: Stats, meta: OriginalMeta): void {
    this.#load().metas[file] = { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, meta, usedMs: Date.now() };
    this.#changed = true;
  }

  /** The JSON of the rendition `key` as last read or written (its variants' bytes are still to be checked). */
  rendition(key: string): CachedRendition | undefined {
    return this.#load().renditions[key]?.entry;
  }

  /**
   * Records the JSON of a rendition read from `<key>.json`, or written to it (`written`: the file's
   * mtime records its use already; a read one's use is still to be recorded).
   */
  rememberRendition(key: string, entry: CachedRendition, { written = false }: { written?: boolean } = {}): void {
    this.#load().renditions[key] = { entry, usedMs: written ? Date.now() : 0 };
    this.#forgotten.delete(key);
    this.#changed = true;
  }

  /**
   * Whether the use of rendition `key` should be recorded on disk now: it is not in the memo, or its
   * recorded use is older than {@link USE_RECORD_INTERVAL_MS} (then it counts as recorded from now).
   */
  useIsStale(key: string): boolean {
    const record = this.#load().renditions[key];
    if (!record) return true;
    return this.#used(record);
  }

  /** A rendition removed from the derived cache. */
  forget(key: string): void {
    const { renditions } = this.#load();
    if (!(key in renditions)) return;
    delete renditions[key];
    this.#forgotten.add(key);
    this.#changed = true;
  }

  /**
   * Writes the memo when this process changed it, merged with what another process saved meanwhile
   * (a dev server and a build, Next's compilations): the newer record of each entry wins.
   */
  async save(): Promise<void> {
    if (!this.#changed) return;
    this.#changed = false;
    const ours = this.#load();
    const theirs = readMemoFile(this.#file);
    for (const key of this.#forgotten) delete theirs.renditions[key];
    const cutoff = Date.now() - FORGET_AFTER_MS;
    const merged: MemoFile = {
      revision: REVISION,
      metas: mergeRecords(theirs.metas, ours.metas, cutoff),
      renditions: mergeRecords(theirs.renditions, ours.renditions, cutoff),
    };
    this.#memo = merged;
    await writeFileAtomic(this.#file, JSON.stringify(merged), { durable: false }).catch(() => {});
  }

  #load(): MemoFile {
    this.#memo ??= readMemoFile(this.#file);
    return this.#memo;
  }

  /** Marks a record used now when its last use is older than the interval; whether it was. */
  #used(record: { usedMs: number }): boolean {
    const now = Date.now();
    if (now - record.usedMs < USE_RECORD_INTERVAL_MS) return false;
    record.usedMs = now;
    this.#changed = true;
    return true;
  }
}

function readMemoFile(file: string): MemoFile {
  try {
    const memo = JSON.parse(readFileSync(file, "utf8")) as Partial<MemoFile>;
    if (memo.revision === REVISION && isRecordMap(memo.metas) && isRecordMap(memo.renditions)) return memo as MemoFile;
  } catch {
    // None yet, or damaged: every file is read as without a memo.
  }
  return { revision: REVISION, metas: {}, renditions: {} };
}

function isRecordMap(value: unknown): value is Record<string, { usedMs: number }> {
  return typeof value === "object" && value !== null && Object.values(value).every((record) => typeof record?.usedMs === "number");
}

function mergeRecords<T extends { usedMs: number }>(theirs: Record<string, T>, ours: Record<string, T>, cutoff: number): Record<string, T> {
  const merged: Record<string, T> = {};
  for (const source of [theirs, ours]) {
    for (const [name, record] of Object.entries(source)) {
      const known = merged[name];
      if (record.usedMs >= cutoff && (!known || record.usedMs >= known.usedMs)) merged[name] = record;
    }
  }
  return merged;
}
