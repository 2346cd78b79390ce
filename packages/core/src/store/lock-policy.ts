import { statSync } from "node:fs";
import { ImagegenError } from "../errors.js";
import type { OriginalKey } from "../spec/key.js";
import { isNotFound } from "./atomic-write.js";
import { type LockEntry, type LockfileData, lockEntryFor, readLockfile, updateLockfile } from "./lockfile.js";
import { entryRevision, withAutomaticPin, withChoice, withPending } from "./review-state.js";
import type { OriginalMeta } from "./store.js";

/** Writing a lock entry was refused: the lock on disk pins another original for that key. */
export class PinnedElsewhereError extends ImagegenError {
  readonly key: OriginalKey;
  /** The entry on disk, which stays. */
  readonly locked: LockEntry;
  constructor(key: OriginalKey, locked: LockEntry) {
    super(`the lock pins another original for key ${key} (sha256 ${locked.sha256.slice(0, 12)}…)`);
    this.name = "PinnedElsewhereError";
    this.key = key;
    this.locked = locked;
  }
}

/** A review change was refused: the entry on disk is not the one it was asked against (another tab, a `git pull`). */
export class LockChangedError extends ImagegenError {
  readonly key: OriginalKey;
  constructor(key: OriginalKey) {
    super(`the lock entry of key ${key} changed since it was read (another tab, another command or a git pull); nothing was changed`);
    this.name = "LockChangedError";
    this.key = key;
  }
}

/** What a review change did to one lock entry, for undo. */
export interface EntryChange {
  key: OriginalKey;
  before: LockEntry | undefined;
  after: LockEntry | undefined;
}

/**
 * The rules by which an engine reads and writes `imagegen.lock.json` (SPEC §4):
 * - it reads the lock again whenever the file changed, so that a long-running engine (a dev
 *   server, a watcher) sees what a `git pull` brought before it pays for anything;
 * - it never replaces an entry that pins another original, unless that image is being re-rolled:
 *   a teammate's image is never overwritten by accident;
 * - it drops entries only when asked, for keys nothing uses: their originals stay in the stores,
 *   where a revert finds them by key;
 * - a person's explicit choice ({@link choose}) re-pins whatever is pinned, and only it approves;
 *   review changes may be asked against the entry as it was seen, and are refused if it changed.
 */
export class LockPolicy {
  readonly path: string;
  /** Keys being re-rolled (`imagegen generate --force`, `imagegen reroll`): their entry may be replaced. */
  readonly #rerolled = new Set<OriginalKey>();
  #writes = 0;
  #data: Promise<LockfileData> | undefined;
  #stamp: string | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** The lock as it is on disk: read again when the file changed since it was last read (a stat, no read, otherwise). */
  current(): Promise<LockfileData> {
    const stamp = fileStamp(this.path);
    if (!this.#data || stamp !== this.#stamp) {
      this.#stamp = stamp;
      this.#data = readLockfile(this.path);
      // A lock that cannot be read is read again next time, not remembered broken.
      this.#data.catch(() => {
        this.#data = undefined;
      });
    }
    return this.#data;
  }

  /** The entry that pins `key`, as the lock on disk has it now; none for a key being re-rolled. */
  async pinned(key: OriginalKey): Promise<LockEntry | undefined> {
    if (this.#rerolled.has(key)) return undefined;
    return (await this.current()).images[key];
  }

  /** Lets the next pin of `key` replace the entry on disk: the one way a locked image is replaced. */
  reroll(key: OriginalKey): void {
    this.#rerolled.add(key);
  }

  /** How many entries this policy wrote (a new image, or one newly locked from the store). */
  get writes(): number {
    return this.#writes;
  }

  /**
   * Pins `meta`'s original for its key. Throws a {@link PinnedElsewhereError}, writing nothing,
   * when the lock on disk pins another original for it and the key is not being re-rolled.
   */
  async pin(meta: OriginalMeta): Promise<void> {
    const entry = lockEntryFor(meta);
    const data = await updateLockfile(this.path, (lock) => {
      const locked = lock.images[meta.key];
      if (locked && locked.sha256 !== meta.sha256 && !this.#rerolled.has(meta.key)) throw new PinnedElsewhereError(meta.key, locked);
      lock.images[meta.key] = withAutomaticPin(locked, entry);
    });
    this.#writes++;
    this.#remember(data);
  }

  /**
   * A person chose `meta`'s candidate (SPEC §13): it is pinned whatever the lock pinned before
   * (that one stays a candidate in the stores) and, with `approve`, approved. With `expected` (an
   * {@link entryRevision}), refused by a {@link LockChangedError} if the entry changed since.
   */
  choose(meta: OriginalMeta, { approve, expected }: { approve: boolean; expected?: string }): Promise<EntryChange> {
    return this.review(meta.key, (locked) => withChoice(locked, lockEntryFor(meta), approve), expected);
  }

  /** New candidates of a locked key wait for a decision; a key not locked yet pins the first of them. */
  addPending(meta: OriginalMeta): Promise<EntryChange> {
    return this.review(meta.key, (locked) => (locked ? withPending(locked, [meta.sha256]) : lockEntryFor(meta)));
  }

  /**
   * Replaces the entry of `key` with what `change` makes of it (`undefined` removes it), in one
   * atomic update of the lock; refused when `expected` is given and the entry is no longer that one.
   */
  async review(key: OriginalKey, change: (locked: LockEntry | undefined) => LockEntry | undefined, expected?: string): Promise<EntryChange> {
    let result: EntryChange | undefined;
    const data = await updateLockfile(this.path, (lock) => {
      const before = lock.images[key];
      if (expected !== undefined && entryRevision(before) !== expected) throw new LockChangedError(key);
      const after = change(before);
      if (after) lock.images[key] = after;
      else delete lock.images[key];
      result = { key, before, after };
    });
    this.#writes++;
    this.#remember(data);
    return result!;
  }

  /** Removes the entries of keys not in `inUse` (nothing is deleted from a store); returns their keys. */
  async retain(inUse: ReadonlySet<OriginalKey>): Promise<OriginalKey[]> {
    const dropped: OriginalKey[] = [];
    const data = await updateLockfile(this.path, (lock) => {
      for (const key of Object.keys(lock.images)) {
        if (inUse.has(key)) continue;
        dropped.push(key);
        delete lock.images[key];
      }
    });
    this.#remember(data);
    return dropped;
  }

  #remember(data: LockfileData): void {
    this.#stamp = fileStamp(this.path);
    this.#data = Promise.resolve(data);
  }
}

/** What changes when a file is replaced or written: its inode, size and modification time. */
function fileStamp(path: string): string {
  try {
    const { ino, size, mtimeMs } = statSync(path);
    return `${ino}:${size}:${mtimeMs}`;
  } catch (error) {
    if (isNotFound(error)) return "absent";
    throw error;
  }
}
