import { readFileSync } from "node:fs";
import { ImagegenError, formatLocation } from "../errors.js";
import type { Rendition } from "../render/variants.js";
import { originalKey } from "../spec/key.js";
import type { ImageSpec } from "../spec/spec.js";
import { CorruptRemoteObjectError, type KeyCandidate, type RemoteStore, keyCandidateOf, packDigest, preferredCandidate } from "./remote.js";
import type { OriginalMeta, Store } from "./store.js";

/** What the remote tier counts, for the engine's stats. */
export interface RemoteTierStats {
  /** Originals downloaded into the local store. */
  downloaded: number;
  /** Originals and renditions uploaded. */
  uploaded: number;
  /** Renditions downloaded instead of being encoded. */
  remoteRenditions: number;
}

/** An original the remote tier brought into the local store. */
export interface FetchedOriginal {
  meta: OriginalMeta;
  bytes: Buffer;
}

/**
 * How an engine uses the remote store (SPEC §10), when one is configured: which originals it
 * downloads (by the sha256 the lock pins, or by key from the remote's index when the lock pins
 * none) and keeps in the local store; what it uploads (every original it stores, with its key's
 * index, and every rendition it encodes); and when it stops sharing renditions for the rest of a
 * run. Without a remote every method finds nothing and uploads nothing.
 */
export class RemoteTier {
  readonly remote: RemoteStore | undefined;
  readonly #store: Store;
  readonly #stats: RemoteTierStats;
  readonly #warn: (message: string) => void;
  /** Set once a rendition read failed (the remote is unreachable): the rest of the run renders locally. */
  #readsOff = false;
  /** Set once a rendition upload failed: the rest of the run does not try again. A failed read never sets it. */
  #uploadsOff = false;
  readonly #lockfilePath: string;
  /** The build pack of the lockfile as this build found it, read on the first rendition asked of the remote. */
  #pack: Promise<Map<string, Rendition> | undefined> | undefined;
  /** The renditions of stored originals this build used since the last {@link sharePack}. */
  readonly #used = new Set<string>();
  /** Whether one of them was not in the build pack (rendered here, or read by itself): the pack lacks it. */
  #packLacks = false;

  constructor(remote: RemoteStore | undefined, store: Store, stats: RemoteTierStats, warn: (message: string) => void, lockfilePath: string) {
    this.remote = remote;
    this.#store = store;
    this.#stats = stats;
    this.#warn = warn;
    this.#lockfilePath = lockfilePath;
  }

  get writable(): boolean {
    return this.remote?.writable === true;
  }

  /**
   * The original of `spec` whose bytes hash to `sha256` (the one the lock pins), downloaded,
   * checked and stored locally; `undefined` when the remote has none. An error names the image
   * and what to do: nothing is generated in its place.
   */
  async fetchPinned(spec: ImageSpec, sha256: string, chosenAt?: string): Promise<FetchedOriginal | undefined> {
    const remote = this.remote;
    if (!remote) return undefined;
    let found: Awaited<ReturnType<RemoteStore["getOriginal"]>>;
    try {
      found = await remote.getOriginal(sha256);
    } catch (error) {
      const problem = error instanceof CorruptRemoteObjectError ? `it is corrupt: ${error.message}` : (error as Error).message;
      throw new ImagegenError(
        `Could not get the original of "${spec.prompt}" (${formatLocation(spec.source)}) from the remote store: ${problem} ` +
          `Nothing was generated: the lock pins this image.`,
        { location: spec.source, cause: error },
      );
    }
    if (!found) return undefined;
    const { recordId, provider, createdAt, origin, price } = found.meta;
    const image = { bytes: found.bytes, ...(recordId !== undefined && { recordId }), ...(origin !== undefined && { origin }) };
    const meta = await this.#store.put(spec.generation, image, provider, { createdAt, price, ...(chosenAt !== undefined && { chosenAt }) });
    this.#stats.downloaded++;
    return { meta, bytes: found.bytes };
  }

  /**
   * The original of `spec` that the remote's index of its key prefers (chosen last, else made
   * last), when the lock pins none: a teammate's image for the same prompt, or a reverted one.
   * `undefined` when the remote has no original for the key.
   */
  async fetchByKey(spec: ImageSpec): Promise<FetchedOriginal | undefined> {
    const remote = this.remote;
    if (!remote) return undefined;
    const key = originalKey(spec.generation);
    let preferred: KeyCandidate | undefined;
    try {
      const index = await remote.getKeyIndex(key);
      preferred = index && preferredCandidate(index);
    } catch (error) {
      throw new ImagegenError(
        `Could not look up "${spec.prompt}" (${formatLocation(spec.source)}) in the remote store: ${(error as Error).message} ` +
          "Nothing was generated, since the remote may hold this image already; run again once it is reachable.",
        { location: spec.source, cause: error },
      );
    }
    return preferred ? this.fetchPinned(spec, preferred.sha256, preferred.chosenAt) : undefined;
  }

  /**
   * Uploads an original this run stored and records it in its key's index, so that no other
   * machine pays for it. Throws when the upload fails: the original stays stored and locked here,
   * and `imagegen push` sends it later.
   */
  async share(meta: OriginalMeta, bytes: Uint8Array): Promise<void> {
    const remote = this.remote;
    if (!remote?.writable) return;
    await remote.putOriginal(meta, bytes);
    await remote.recordCandidates(meta.key, [keyCandidateOf(meta)]);
    this.#stats.uploaded++;
  }

  /**
   * Records in the index of its key that a person chose this original (its `chosenAt`), uploading
   * it first if the remote lacks it, so that no index names an original the team cannot get.
   */
  async recordChoice(meta: OriginalMeta, bytes: () => Promise<Uint8Array>): Promise<void> {
    const remote = this.remote;
    if (!remote?.writable) return;
    if (!(await remote.hasOriginal(meta.sha256))) await remote.putOriginal(meta, await bytes());
    await remote.recordCandidates(meta.key, [keyCandidateOf(meta)]);
  }

  /**
   * A rendition from the remote: from the build pack of this lockfile (every rendition the builds
   * of this lock used, read once, in one request), else from `derived/<key>.rendition`; or
   * `undefined` (a miss, a corrupt entry, an unreachable remote: it is rendered here).
   */
  async rendition(key: string): Promise<Rendition | undefined> {
    const remote = this.remote;
    if (!remote || this.#readsOff) return undefined;
    try {
      this.#pack ??= this.#readPack(remote);
      const packed = (await this.#pack)?.get(key);
      const rendition = packed ?? (await remote.getRendition(key));
      if (rendition) {
        this.#stats.remoteRenditions++;
        this.#use(key, !packed);
      }
      return rendition;
    } catch (error) {
      if (error instanceof CorruptRemoteObjectError) {
        this.#warn(`${withoutStop(error.message)}; rendering it here instead.`);
      } else {
        this.#readsOff = true;
        this.#warn(`${(error as Error).message} Renditions are rendered here for the rest of this run.`);
      }
      return undefined;
    }
  }

  /** Notes a rendition of a stored original that this build found in its derived cache or rendered: it belongs in the build pack. */
  used(key: string, how: "cached" | "rendered"): void {
    this.#use(key, how === "rendered");
  }

  #use(key: string, notInPack: boolean): void {
    if (!this.remote) return;
    this.#used.add(key);
    if (notInPack) this.#packLacks = true;
  }

  /**
   * After a build that a writable machine ran: when some of its renditions were not in the build
   * pack of its lockfile (rendered here, or read one by one), writes the pack again with them,
   * merged with what it held (the other builds of the same lock: a client and an SSR build), so
   * that the next cold machine with this lock reads every rendition in one request. A pack above
   * {@link PACK_MAX_BYTES} is not written. Never fails a build: a failure costs the next machine
   * one request per rendition, so it only warns.
   */
  async sharePack(read: (key: string) => Promise<Rendition | undefined>): Promise<void> {
    const used = [...this.#used];
    const packLacks = this.#packLacks;
    this.#used.clear();
    this.#packLacks = false;
    // The next build reads the pack of the lockfile it finds (this one may have changed it).
    this.#pack = undefined;
    const remote = this.remote;
    if (!remote?.writable || this.#uploadsOff || !packLacks) return;
    const digest = this.#lockDigest();
    if (!digest) return;
    try {
      const pack = new Map((await remote.getPack(digest).catch(() => undefined)) ?? []);
      let bytes = 0;
      for (const rendition of pack.values()) bytes += renditionBytes(rendition);
      for (const key of used) {
        if (pack.has(key)) continue;
        const rendition = await read(key);
        if (!rendition) continue;
        pack.set(key, rendition);
        bytes += renditionBytes(rendition);
      }
      if (bytes > PACK_MAX_BYTES) return;
      await remote.putPack(digest, pack);
      this.#stats.uploaded++;
    } catch (error) {
      this.#uploadsOff = true;
      this.#warn(`${(error as Error).message} The build pack is not uploaded.`);
    }
  }

  async #readPack(remote: RemoteStore): Promise<Map<string, Rendition> | undefined> {
    const digest = this.#lockDigest();
    if (!digest) return undefined;
    try {
      return await remote.getPack(digest);
    } catch (error) {
      if (!(error instanceof CorruptRemoteObjectError)) throw error;
      this.#warn(`${withoutStop(error.message)}; its renditions are read one by one instead.`);
      return undefined;
    }
  }

  /** The name of the lockfile's build pack; `undefined` without a lockfile. */
  #lockDigest(): string | undefined {
    try {
      return packDigest(readFileSync(this.#lockfilePath));
    } catch {
      return undefined;
    }
  }

  /** Shares a new rendition; a failure costs the next machine an encode, so it only warns. */
  async shareRendition(key: string, rendition: Rendition): Promise<void> {
    const remote = this.remote;
    if (!remote?.writable || this.#uploadsOff) return;
    try {
      await remote.putRendition(key, rendition);
      this.#stats.uploaded++;
    } catch (error) {
      this.#uploadsOff = true;
      this.#warn(`${(error as Error).message} Renditions are not uploaded for the rest of this run.`);
    }
  }
}

/** The largest build pack written: above it, a cold machine reads renditions one by one, in parallel. */
const PACK_MAX_BYTES = 64 * 1024 * 1024;

function renditionBytes(rendition: Rendition): number {
  return rendition.variants.reduce((total, variant) => total + variant.bytes.byteLength, 0);
}

/** A sentence that goes on after a semicolon loses its full stop. */
function withoutStop(message: string): string {
  return message.replace(/\.$/, "");
}
