import { ImagegenError } from "../errors.js";
import type { DiscoveredSpec } from "./discovery.js";
import type { OriginalKey } from "../spec/key.js";
import { type LockEntry, type LockfileData, readLockfile } from "../store/lockfile.js";
import { type OriginalMeta, Store } from "../store/store.js";
import { WeightedSemaphore } from "../semaphore.js";

/** Originals whose bytes are re-hashed at once: enough to keep the disk and a core busy. */
const VERIFY_AT_ONCE = 8;

/**
 * - `ok`: the original the lock pins is stored.
 * - `missing`: the store does not hold the original the lock pins (the remote may: `imagegen pull`),
 *   or, unlocked, holds none of the key; `imagegen generate` makes an unlocked one.
 * - `stale`: a stored original whose metadata cannot be read or whose bytes no longer match it;
 *   never reused silently. Also an edit whose input file changed since its locked original was
 *   made (`inputsChanged`): `imagegen generate` makes it from the new bytes.
 * - `unlocked`: stored, but not in the lock; `imagegen generate` (or a build) records it.
 */
export type ImageStatus = "ok" | "missing" | "stale" | "unlocked";

export interface AuditedImage extends DiscoveredSpec {
  status: ImageStatus;
  /** Why an image is stale, in one line. */
  problem?: string;
  /** Stale because an `edit` or `ref` file's bytes changed: a new image is due, nothing is damaged. */
  inputsChanged?: true;
  meta?: OriginalMeta;
  locked?: LockEntry;
}

/**
 * Whether `imagegen generate` pays for the image: missing and unlocked (a locked one comes from the
 * remote store, or fails naming `--force`), or an edit whose input files changed (a new key).
 */
export function needsGeneration(image: AuditedImage): boolean {
  return (image.status === "missing" && !image.locked) || image.inputsChanged === true;
}

/**
 * A lock or store entry that no discovered image uses. `imagegen generate` drops such a lock
 * entry; the original stays in the store (a reverted prompt reuses it) until `imagegen prune`.
 */
export interface OrphanedEntry {
  key: OriginalKey;
  prompt: string;
  inLock: boolean;
  inStore: boolean;
  meta?: OriginalMeta;
  locked?: LockEntry;
}

export interface Audit {
  images: AuditedImage[];
  orphaned: OrphanedEntry[];
  lock: LockfileData;
}

export interface AuditOptions {
  storeDir: string;
  lockfilePath: string;
  /** Re-hash each stored original's bytes, not just compare the metadata with the lock. @default true */
  verifyBytes?: boolean;
}

/**
 * Compares what the project uses with the store and the lock. Calls no provider and writes
 * nothing: it is what `imagegen check`, `list` and `prune` decide from.
 */
export async function auditImages(specs: DiscoveredSpec[], options: AuditOptions): Promise<Audit> {
  const store = new Store(options.storeDir);
  const lock = await readLockfile(options.lockfilePath);
  const verifyBytes = options.verifyBytes ?? true;
  // A few originals read at once, not every one: 2,000 of 2 MiB read together held 4 GiB.
  const reading = new WeightedSemaphore(VERIFY_AT_ONCE);

  const images = await Promise.all(
    specs.map(async (discovered): Promise<AuditedImage> => {
      const locked = lock.images[discovered.key];
      const withLock = locked ? { locked } : {};
      let meta: OriginalMeta | undefined;
      try {
        // The candidate the lock pins, else (unlocked) the one chosen or made last.
        meta = await store.readMeta(discovered.key, locked?.sha256);
      } catch (error) {
        if (!(error instanceof ImagegenError)) throw error;
        return { ...discovered, ...withLock, status: "stale", problem: error.message };
      }
      if (!meta) {
        const changed = changedInputs(discovered, lock);
        if (changed) return { ...discovered, ...withLock, status: "stale", problem: changed, inputsChanged: true };
        return { ...discovered, ...withLock, status: "missing" };
      }
      if (verifyBytes) {
        await reading.acquire(1);
        try {
          await store.readOriginal(meta);
        } catch (error) {
          if (!(error instanceof ImagegenError)) throw error;
          return { ...discovered, ...withLock, meta, status: "stale", problem: error.message };
        } finally {
          reading.release(1);
        }
      }
      return { ...discovered, ...withLock, meta, status: locked ? "ok" : "unlocked" };
    }),
  );

  const used = new Set(specs.map((spec) => spec.key));
  const unusedStored = (await store.keys()).filter((key) => !used.has(key));
  const orphanKeys = [...new Set([...Object.keys(lock.images).filter((key) => !used.has(key)), ...unusedStored])].sort();
  const orphaned = await Promise.all(
    orphanKeys.map(async (key): Promise<OrphanedEntry> => {
      const locked = lock.images[key];
      const meta = await store.readMeta(key).catch(() => undefined);
      return {
        key,
        prompt: locked?.prompt ?? meta?.prompt ?? "",
        inLock: locked !== undefined,
        inStore: unusedStored.includes(key),
        ...(meta && { meta }),
        ...(locked && { locked }),
      };
    }),
  );

  return { images, orphaned, lock };
}

/**
 * An edit's key changes with its input files' bytes, so a changed file makes the image "missing".
 * When the lock holds the same request made from the same paths with other bytes, it is stale
 * instead, and this says which file changed.
 */
function changedInputs({ spec }: DiscoveredSpec, lock: LockfileData): string | undefined {
  const { generation } = spec;
  const inputs = generation.inputs;
  if (!inputs?.length) return undefined;
  for (const entry of Object.values(lock.images)) {
    const locked = entry.inputs;
    const sameRequest =
      entry.prompt === generation.prompt &&
      entry.model === generation.model &&
      entry.size === generation.size &&
      entry.temperature === generation.temperature &&
      entry.topP === generation.topP &&
      entry.variant === generation.variant &&
      locked?.length === inputs.length &&
      locked.every((input, i) => input.role === inputs[i]!.role && input.path === inputs[i]!.path);
    if (!sameRequest) continue;
    const changed = inputs.filter((input, i) => input.sha256 !== locked![i]!.sha256);
    if (changed.length === 0) continue;
    return changed
      .map((input) => {
        const before = locked!.find((record) => record.path === input.path)!.sha256;
        return `${input.role} ${input.path} changed since the image was made (sha256 ${before.slice(0, 12)}… → ${input.sha256!.slice(0, 12)}…)`;
      })
      .join("; ");
  }
  return undefined;
}
