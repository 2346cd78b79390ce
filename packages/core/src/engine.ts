import path from "node:path";
import { relativeInside } from "./spec/project-path.js";
import { removeStaleTempFiles } from "./store/atomic-write.js";
import { removeStaleLocks } from "./store/file-lock.js";
import { DerivedCache, renditionKey } from "./store/derived-cache.js";
import { ImagegenError, formatLocation, truncate } from "./errors.js";
import { generateWithRetry } from "./generate/generate-with-retry.js";
import { type AssetPaths, type GeneratedImage, ProviderError } from "./generate/provider.js";
import { estimatePrice, recordedPrice } from "./cost/price.js";
import { BudgetRefusal, type Reservation, RunBudget, type Spending } from "./cost/run-budget.js";
import { storeAssetPaths } from "./store/asset-paths.js";
import { type OriginalKey, originalKey, sha256Hex } from "./spec/key.js";
import type { LockEntry } from "./store/lockfile.js";
import { type EntryChange, LockPolicy, PinnedElsewhereError } from "./store/lock-policy.js";
import { entryRevision } from "./store/review-state.js";
import { RemoteTier } from "./store/remote-tier.js";
import type { ResolvedOptions } from "./project/options.js";
import type { ImageSpec } from "./spec/spec.js";
import { DamagedOriginalError, type OriginalMeta, Store } from "./store/store.js";
import { ReadMemo } from "./store/read-memo.js";
import { type PlannedVariant, type Rendition, type Variant, inFormatOrder, renderPlaceholder, renderVariant, renderVariants } from "./render/variants.js";
import type { LocalFile } from "./render/render-process.js";
import { loadSharp } from "./sharp.js";
import { WeightedSemaphore } from "./semaphore.js";

/** An original ready to be rendered: its identity, and how to read its bytes when needed. */
export interface OriginalRef {
  key: OriginalKey;
  sha256: string;
  width: number;
  height: number;
  /** False for placeholder images, which are never stored. */
  stored: boolean;
  load(): Promise<Buffer>;
  /**
   * Present while the original is only in the remote store: downloads it into the local store
   * without holding its bytes, so that a renderer fetches before it reserves memory and a slot.
   */
  ready?(): Promise<void>;
  /** The original's file in the local store (stored originals): the render process reads it there. */
  localFile?(): Promise<LocalFile>;
}

export interface ImageResult {
  spec: ImageSpec;
  original: OriginalRef;
  rendition: Rendition;
}

/** Thrown in frozen or strict mode for an original that is not in the store. */
export class MissingOriginalError extends ImagegenError {
  readonly spec: ImageSpec;
  constructor(message: string, spec: ImageSpec) {
    super(message, { location: spec.source });
    this.name = "MissingOriginalError";
    this.spec = spec;
  }
}

export interface EngineOptions {
  /**
   * Aborts every generation of this engine: queued ones never start, running ones and their
   * retries stop (the signal reaches the provider). The dev server aborts it when it closes.
   */
  signal?: AbortSignal;
}

export interface EngineStats {
  /** Originals read from the store. */
  cached: number;
  /** Originals downloaded from the remote store (SPEC §10). */
  downloaded: number;
  /** Originals and renditions uploaded to the remote store. */
  uploaded: number;
  /** Renditions downloaded from the remote store instead of being encoded. */
  remoteRenditions: number;
  /** Originals made by a provider in this run. */
  generated: number;
  /** Renditions made by sharp (cache misses). */
  rendered: number;
  /** Requests to a paid provider's API: every attempt, retries included. */
  requests: number;
}

/** How a generation is asked for: a missing original (neither), a re-roll that re-pins, or a new candidate that does not. */
interface GenerationMode {
  reroll?: boolean;
  candidate?: boolean;
}

/** An original this run made, stored and locked, whose upload to the remote store failed: \`imagegen push\` sends it later. */
export interface NotUploaded {
  key: OriginalKey;
  prompt: string;
  /** Why the upload failed, in one line. */
  problem: string;
}

/**
 * Turns specs into originals and renditions. One engine lives as long as a build or a CLI run:
 * each original and each rendition is worked out at most once, however many modules ask.
 */
export class Engine {
  readonly options: ResolvedOptions;
  readonly store: Store;
  readonly derivedCache: DerivedCache;
  readonly stats: EngineStats = { cached: 0, downloaded: 0, uploaded: 0, remoteRenditions: 0, generated: 0, rendered: 0, requests: 0 };
  /** Originals of this run that are stored and locked here but not in the remote store. */
  readonly notUploaded: NotUploaded[] = [];

  readonly #originals = new Map<OriginalKey, Promise<OriginalRef>>();
  // Renditions and variants are shared while they are made, then forgotten: their bytes are not held
  // for the engine's life (a dev server's, a watcher's); the derived cache serves them again.
  readonly #renditions = new Map<string, Promise<Rendition>>();
  readonly #variants = new Map<string, Promise<Variant>>();
  readonly #placeholders = new Map<string, Promise<string | undefined>>();
  /** Downloads of locked originals into the local store, one per key: the metadata, not the bytes. */
  readonly #downloads = new Map<OriginalKey, Promise<OriginalMeta>>();
  /** Generations this engine started that have not settled, for {@link drain}. */
  readonly #generating = new Set<Promise<unknown>>();
  /** Generations at the API at once (`concurrency`): a slot is freed as soon as the API has made the image. */
  readonly #atApi: WeightedSemaphore;
  /** Generations in flight with their downloads: twice `concurrency`, so that downloads never pile up. */
  readonly #inFlight: WeightedSemaphore;
  readonly #assetPaths: AssetPaths;
  readonly #readMemo: ReadMemo;
  readonly #lock: LockPolicy;
  readonly #remote: RemoteTier;
  /** `maxGenerations` and `maxCost` of this run: each paid generation reserves its estimate, and settles. */
  readonly #budget: RunBudget;
  #leftovers: Promise<void> | undefined;
  #warnedPlaceholder = false;
  readonly #signal: AbortSignal | undefined;

  constructor(options: ResolvedOptions, { signal }: EngineOptions = {}) {
    this.options = options;
    this.#signal = signal;
    // One memo of what the store's metadata and the derived cache's JSON held, for both (read-memo.ts).
    this.#readMemo = new ReadMemo(options.cacheDir);
    this.store = new Store(options.storeDir, { memo: this.#readMemo });
    this.derivedCache = new DerivedCache(options.cacheDir, { memo: this.#readMemo });
    this.#atApi = new WeightedSemaphore(options.concurrency);
    this.#inFlight = new WeightedSemaphore(options.concurrency * 2);
    this.#assetPaths = storeAssetPaths(options.storeDir);
    this.#lock = new LockPolicy(options.lockfilePath);
    this.#remote = new RemoteTier(options.remote, this.store, this.stats, (message) => options.logger.warn(message), options.lockfilePath);
    this.#budget = new RunBudget(options);
  }

  /** What this engine's paid generations have spent (SPEC §14): a cache hit or a download spends nothing. */
  get spending(): Spending {
    return this.#budget.spending;
  }

  async resolveImage(spec: ImageSpec): Promise<ImageResult> {
    const original = await this.resolveOriginal(spec);
    const rendition = inFormatOrder(await this.#rendition(original, spec), spec.output.formats);
    return { spec, original, rendition };
  }

  /** The original of a spec: from the stores, or generated once (shared by every caller). */
  resolveOriginal(spec: ImageSpec): Promise<OriginalRef> {
    this.#leftovers ??= this.#removeLeftovers();
    const key = originalKey(spec.generation);
    // A failure is not remembered: the next build (or dev-server reload) tries again.
    return this.#once(this.#originals, key, () => this.#findOrGenerate(key, spec));
  }

  /**
   * A new original for a spec although one is stored or locked (`imagegen generate --force`): it
   * is paid for, stored beside the others as a candidate of the key (none is deleted), and pinned
   * in the lock in place of the old one.
   */
  reroll(spec: ImageSpec): Promise<OriginalRef> {
    this.#leftovers ??= this.#removeLeftovers();
    const key = originalKey(spec.generation);
    this.#lock.reroll(key);
    this.#originals.delete(key);
    return this.#once(this.#originals, key, () => this.#generate(key, spec, { reroll: true }));
  }

  /**
   * A new candidate for a spec (`imagegen reroll`, the review page): paid for (counted by
   * `maxGenerations`), stored and shared like any original, and listed in the lock as pending: the
   * pin stays until a person chooses ({@link choose}). Providers whose images are throwaway refuse.
   */
  async newCandidate(spec: ImageSpec): Promise<OriginalMeta> {
    this.#leftovers ??= this.#removeLeftovers();
    if (this.#readOnly) {
      throw new ImagegenError(`Not re-rolling "${spec.prompt}": ${this.options.frozen ? "imagegen is frozen" : `provider "${this.options.provider.id}" keeps nothing it makes`}.`);
    }
    const key = originalKey(spec.generation);
    const made = await this.#generate(key, spec, { candidate: true });
    return (await this.store.readMeta(key, made.sha256))!;
  }

  /** Paid generations this engine may still start (`maxGenerations` less those started). */
  get generationsLeft(): number {
    return this.#budget.generationsLeft;
  }

  /** The lock's rules, for review changes that are not a choice (reject, undo). */
  get lockPolicy(): LockPolicy {
    return this.#lock;
  }

  /**
   * The candidate of a spec's key whose bytes hash to `sha256`: from the local store, else from
   * the remote store into it; `undefined` when neither has it.
   */
  async candidate(spec: ImageSpec, sha256: string): Promise<OriginalMeta | undefined> {
    const key = originalKey(spec.generation);
    return (await this.store.readMeta(key, sha256)) ?? (await this.#remote.fetchPinned(spec, sha256))?.meta;
  }

  /**
   * A person chose a candidate (SPEC §13): the lock pins it (approved, with `approve`), the store
   * marks it chosen, and so does the remote's index of its key when the remote is writable, so that
   * a machine that finds the key by index takes it. `expected` refuses a change made against an
   * entry that has changed since ({@link LockChangedError}).
   */
  async choose(meta: OriginalMeta, options: { approve: boolean; expected?: string }): Promise<EntryChange> {
    const change = await this.#lock.choose(meta, options);
    await this.#chosen(meta);
    return change;
  }

  /** Puts back the entry a change replaced (undo), refused if the entry is no longer what the change made. */
  async restore(change: EntryChange): Promise<EntryChange> {
    const undone = await this.#lock.review(change.key, () => change.before, entryRevision(change.after));
    const pinned = change.before?.sha256;
    const meta = pinned === undefined || pinned === change.after?.sha256 ? undefined : await this.store.readMeta(change.key, pinned);
    if (meta) await this.#chosen(meta);
    else this.#originals.delete(change.key);
    return { key: change.key, before: undone.before, after: undone.after };
  }

  /** The store's and the remote index's record of a choice; the next resolve reads the lock again. */
  async #chosen(meta: OriginalMeta): Promise<void> {
    this.#originals.delete(meta.key);
    const chosen = await this.store.markChosen(meta);
    try {
      await this.#remote.recordChoice(chosen, () => this.store.readOriginal(chosen));
    } catch (error) {
      this.options.logger.warn(`The choice of sha256 ${meta.sha256.slice(0, 12)}… is locked, but not recorded in the remote store: ${(error as Error).message}`);
    }
  }

  /**
   * The original of a spec when a store (the local one, or the remote one for a locked key)
   * already holds it, without generating: for a caller that shows something else while
   * {@link resolveOriginal} runs (the dev server).
   */
  async storedOriginal(spec: ImageSpec): Promise<OriginalRef | undefined> {
    const key = originalKey(spec.generation);
    return (await this.#stored(key, spec)) ?? (await this.#pinned(key, spec));
  }

  /**
   * One variant of a spec's rendition, from the derived cache or encoded on its own: the dev
   * server encodes what a browser asks for, and nothing else.
   */
  async variant(original: OriginalRef, spec: ImageSpec, planned: PlannedVariant): Promise<Variant> {
    const key = await this.renditionKey(original, spec);
    return this.#shared(this.#variants, `${key}:${planned.format}:${planned.width}`, async () => {
      const cached = await this.derivedCache.getVariant(key, planned.format, planned.width);
      if (cached) return cached;
      const variant = await renderVariant(original, spec.output, planned);
      this.stats.rendered++;
      await this.derivedCache.setVariant(key, variant);
      return variant;
    });
  }

  /** The blurred placeholder of a spec's rendition alone (`undefined` for `placeholder: "none"`), cached. */
  async placeholder(original: OriginalRef, spec: ImageSpec): Promise<string | undefined> {
    const key = await this.renditionKey(original, spec);
    return this.#once(this.#placeholders, key, async () => {
      if (spec.output.placeholder !== "blur") return undefined;
      const cached = this.derivedCache.getPlaceholder(key) ?? (await this.derivedCache.get(key))?.placeholder;
      if (cached) return cached;
      const placeholder = await renderPlaceholder(original, spec.output);
      if (placeholder) await this.derivedCache.setPlaceholder(key, placeholder);
      return placeholder;
    });
  }

  /**
   * How many lock entries this engine wrote (new images, or ones newly locked): only after one can
   * an entry have become unused, the prompt it was made for having changed (see {@link retainInLock}).
   */
  get lockWrites(): number {
    return this.#lock.writes;
  }

  /**
   * Keeps in the lock exactly the images in use (SPEC §4): drops the entries of keys neither in
   * `inUse` nor resolved by this engine, and returns them. Their originals stay in the local and
   * remote stores, where a revert finds them by key. Frozen and placeholder runs write nothing.
   */
  async retainInLock(inUse: ReadonlySet<OriginalKey>): Promise<OriginalKey[]> {
    if (this.#readOnly) return [];
    return this.#lock.retain(new Set([...inUse, ...this.#originals.keys()]));
  }

  /** One in-flight promise per key; a failure is forgotten so that the next ask tries again. */
  #once<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
    let pending = map.get(key);
    if (!pending) {
      pending = make();
      map.set(key, pending);
      pending.catch(() => map.delete(key));
    }
    return pending;
  }

  /** One promise per key while it runs, forgotten once it settles (what it made is in a cache by then). */
  #shared<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
    let pending = map.get(key);
    if (!pending) {
      pending = make();
      map.set(key, pending);
      const forget = () => {
        if (map.get(key) === pending) map.delete(key);
      };
      pending.then(forget, forget);
    }
    return pending;
  }

  /**
   * Waits for every generation this engine started: after its signal aborted, those the API had
   * already made (and charged) finish downloading and are stored, bounded by the download's
   * inactivity timeout; the others end at once. Never fails.
   */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#generating]);
  }

  /**
   * Temporary files of writes, and key locks, that a killed build left behind (readers never see
   * them, but they should not end up in git). Only dead writers' and old ones: a running build's are kept.
   */
  async #removeLeftovers(): Promise<void> {
    const { storeDir, cacheDir, lockfilePath } = this.options;
    await Promise.all([
      removeStaleTempFiles(storeDir),
      removeStaleTempFiles(cacheDir),
      removeStaleTempFiles(path.dirname(lockfilePath), undefined, path.basename(lockfilePath)),
      removeStaleLocks(path.join(storeDir, ".locks")),
    ]).catch(() => {});
  }

  /**
   * After a build: records which derived-cache entries it used, and removes the least recently
   * used ones of other builds until the cache fits `cacheMaxBytes`; then saves what it read for the
   * next build (store/read-memo.ts). Never fails a build.
   */
  async trimDerivedCache(): Promise<void> {
    await this.derivedCache.trim(this.options.cacheMaxBytes).catch((error: unknown) => {
      this.options.logger.warn(`Could not trim the derived cache ${this.#relative(this.options.cacheDir)}: ${(error as Error).message}`);
    });
    await this.#readMemo.save();
  }

  /**
   * After a build, once its lock is written: on a machine that may write the remote store, the
   * build pack of this lockfile gets the renditions this build used that it lacked
   * (store/remote-tier.ts). Never fails a build.
   */
  async sharePack(): Promise<void> {
    await this.#remote.sharePack((key) => this.derivedCache.get(key));
  }

  /** Frozen builds and throwaway (placeholder) providers write neither the store nor the lock. */
  get #readOnly(): boolean {
    return this.options.frozen || this.options.provider.persistent === false;
  }

  /**
   * Local store, then the lock (an original it pins comes from the remote store), then the
   * remote's index by key, then a provider: only a key that no store has and the lock does not
   * pin is paid for.
   */
  async #findOrGenerate(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef> {
    return (await this.#stored(key, spec)) ?? (await this.#pinned(key, spec)) ?? (await this.#byKey(key, spec)) ?? this.#generate(key, spec);
  }

  /**
   * A locked original that the local store lacks: read from the remote store, lazily, since a
   * cached rendition needs no original. Without a remote it is an error: a new generation would be
   * a different image, so it is never paid for silently. `undefined` for an unlocked key.
   */
  async #pinned(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef | undefined> {
    const locked = await this.#lock.pinned(key);
    if (!locked) return undefined;
    if (!this.options.remote) throw await this.#missingEverywhere(key, spec, locked);
    // One download per key, however many refs the dev server makes of it; a failed one is tried again.
    const download = () =>
      this.#once(this.#downloads, key, async () => {
        const fetched = await this.#remote.fetchPinned(spec, locked.sha256);
        if (!fetched) throw await this.#missingEverywhere(key, spec, locked);
        return fetched.meta;
      });
    return {
      key,
      sha256: locked.sha256,
      width: locked.width,
      height: locked.height,
      stored: true,
      ready: async () => {
        await download();
      },
      // Downloaded, the original is read back from the local store like any other.
      load: async () => this.store.readOriginal(await download()),
      localFile: async () => this.#localFile(await download()),
    };
  }

  /** The original the remote's index names for an unlocked key (a teammate's, or a reverted prompt's), stored and locked here. */
  async #byKey(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef | undefined> {
    const fetched = await this.#remote.fetchByKey(spec);
    if (!fetched) return undefined;
    if (!this.#readOnly) await this.#pinOrDefer(fetched.meta, spec);
    return this.#storedRef(fetched.meta, fetched.bytes);
  }

  async #missingEverywhere(key: OriginalKey, spec: ImageSpec, locked: LockEntry): Promise<MissingOriginalError> {
    const store = `${this.#relative(this.options.storeDir)}/`;
    const where = this.options.remote ? `neither in ${store} nor in ${this.options.remote.url}` : `not in ${store}`;
    const others = (await this.store.candidates(key).catch(() => [])).length;
    const candidates = others > 0 ? ` (${store} holds ${others === 1 ? "another original" : `${others} other originals`} of this key)` : "";
    return new MissingOriginalError(
      `The original of "${spec.prompt}" (${formatLocation(spec.source)}) is locked in ${this.#relative(this.options.lockfilePath)} ` +
        `(sha256 ${locked.sha256.slice(0, 12)}…) but is ${where}${candidates}; nothing was generated, ` +
        `since a new generation would be a different image. Restore it (\`imagegen push\` from a machine that has it), ` +
        `or run \`imagegen generate --force ${spec.source.name ?? key}\` to make a new one.`,
      spec,
    );
  }

  /**
   * The stored original of `key` that the lock pins (or, for an unlocked key, the candidate chosen
   * or made last, which is then locked); `undefined` when the store has none.
   */
  async #stored(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef | undefined> {
    const locked = await this.#lock.pinned(key);
    let meta: OriginalMeta | undefined;
    try {
      meta = await this.store.readMeta(key, locked?.sha256);
      // Only the size here (no read): the bytes are hashed when they are loaded, on a cache miss.
      if (meta) await this.store.checkOriginal(meta);
    } catch (error) {
      throw error instanceof DamagedOriginalError ? this.#damaged(spec, locked, error) : error;
    }
    if (!meta) return undefined;
    // Frozen and placeholder builds read the lock and the store but never write them (a CI checkout stays clean).
    if (!locked && !this.#readOnly) await this.#pinOrDefer(meta, spec);
    this.stats.cached++;
    const stored = meta;
    return {
      key,
      sha256: meta.sha256,
      width: meta.width,
      height: meta.height,
      stored: true,
      load: () =>
        this.store.readOriginal(stored).catch((error: unknown) => {
          throw error instanceof DamagedOriginalError ? this.#damaged(spec, locked, error) : error;
        }),
      localFile: async () => this.#localFile(stored),
    };
  }

  #localFile(meta: OriginalMeta): LocalFile {
    return { path: this.store.originalFile(meta), sha256: meta.sha256 };
  }

  /** A store entry that cannot be used, reported with the lock and the commands that fix it. */
  #damaged(spec: ImageSpec, locked: LockEntry | undefined, error: DamagedOriginalError): ImagegenError {
    const { key } = error;
    const lock = locked ? `, locked in ${this.#relative(this.options.lockfilePath)} with sha256 ${locked.sha256.slice(0, 12)}…,` : "";
    return new ImagegenError(
      `The stored original of "${spec.prompt}" (${formatLocation(spec.source)})${lock} is damaged: ${this.#relativePaths(error.problem)}. ` +
        `Restore ${this.#relative(this.options.storeDir)}/ from git (or your CI cache), or run \`imagegen generate --force ${key}\` to make a new image.`,
      { location: spec.source, cause: error },
    );
  }

  #relative(file: string): string {
    const relative = relativeInside(this.options.root, file);
    return relative === undefined || relative === "" ? file : relative;
  }

  #relativePaths(text: string): string {
    return text.replaceAll(`${this.options.root}${path.sep}`, "");
  }

  /** A generation, counted in {@link drain} until it settles. */
  #generate(key: OriginalKey, spec: ImageSpec, options: GenerationMode = {}): Promise<OriginalRef> {
    const generation = this.#generateOnce(key, spec, options);
    this.#generating.add(generation);
    const settled = () => this.#generating.delete(generation);
    generation.then(settled, settled);
    return generation;
  }

  async #generateOnce(key: OriginalKey, spec: ImageSpec, mode: GenerationMode = {}): Promise<OriginalRef> {
    const { options } = this;
    const where = formatLocation(spec.source);
    if (options.frozen) {
      throw new MissingOriginalError(
        `No stored original for "${spec.prompt}" (${where}, key ${key}) and imagegen is frozen; run \`imagegen generate\` with an API key.`,
        spec,
      );
    }
    const provider = options.provider;
    const paid = provider.persistent !== false;
    if (options.usingFallbackPlaceholder) {
      if (options.strict) {
        throw new MissingOriginalError(
          `No stored original for "${spec.prompt}" (${where}, key ${key}) and no API key: set ONEMIN_API_KEY, or set strict: false to build with placeholders.`,
          spec,
        );
      }
      if (!this.#warnedPlaceholder) {
        this.#warnedPlaceholder = true;
        options.logger.warn(
          "ONEMIN_API_KEY is not set: missing images are placeholders that show their prompt (nothing is written to the store or lock).",
        );
      }
    } else if (!paid && provider.origin !== undefined && !this.#warnedPlaceholder) {
      this.#warnedPlaceholder = true;
      options.logger.warn(
        `${provider.origin} is not the 1min.ai API: what it makes is not kept in the store or the lock, so that offline work never looks paid. ` +
          "Set persistent: true (or IMAGEGEN_PERSISTENT=1) to keep it, e.g. for a relay of the same model.",
      );
    }
    if (!paid) return this.#generateNow(key, spec, mode);
    const { model, size } = spec.generation;
    let reservation: Reservation;
    try {
      reservation = this.#budget.reserve(estimatePrice(spec.generation, options), model, size);
    } catch (error) {
      if (!(error instanceof BudgetRefusal)) throw error;
      throw new ImagegenError(`Not generating "${spec.prompt}" (${where}): ${error.message}.`, { location: spec.source, cause: error });
    }
    // Another build sharing the store may be generating the same key: wait for it, then look again.
    let keyLock;
    try {
      keyLock = await this.store.lock(key, {
        signal: this.#signal,
        onWait: (holder) =>
          options.logger.info(
            `waiting for another imagegen process${holder ? ` (pid ${holder.pid} on ${holder.hostname})` : ""} that is generating "${truncate(spec.prompt)}"`,
          ),
      });
    } catch (error) {
      reservation.cancel();
      throw error;
    }
    try {
      // Inside the key's lock, the lock file as it is now (a git pull, another process): what it pins is never paid for again.
      const existing = mode.reroll || mode.candidate ? undefined : ((await this.#stored(key, spec)) ?? (await this.#pinned(key, spec)));
      if (existing) {
        reservation.cancel();
        return existing;
      }
      return await this.#generateNow(key, spec, mode, reservation);
    } catch (error) {
      reservation.release();
      throw error;
    } finally {
      await keyLock.release();
    }
  }

  async #generateNow(key: OriginalKey, spec: ImageSpec, { reroll = false, candidate = false }: GenerationMode, reservation?: Reservation): Promise<OriginalRef> {
    const { options } = this;
    const provider = options.provider;
    const paid = provider.persistent !== false;
    const where = formatLocation(spec.source);
    // What comes back is decoded: import sharp (a blocking ~50–200 ms) while the request is out, not after.
    loadSharp().catch(() => {});
    // The bytes are stored within the generation's slot: a build whose provider answers faster than
    // the store writes never holds more than a slot's worth of originals (2,000 fresh 1024 px PNGs
    // held 5.7 GiB at once when they were stored after it).
    const made = await this.#atTheApi(async (madeByTheApi) => {
      let charged = false;
      let image: GeneratedImage;
      try {
        image = await generateWithRetry(provider, spec.generation, {
          attempts: options.attempts,
          maxRetryAfterMs: options.maxRetryAfterMs,
          timeoutMs: options.timeoutMs,
          minDelayMs: options.retryDelayMs,
          ...(paid ? { assets: this.#assetPaths, onAttempt: () => this.stats.requests++ } : {}),
          signal: this.#signal,
          onPaid: () => {
            charged = true;
            madeByTheApi();
          },
        });
      } catch (error) {
        // The API made the image (its download failed) or accepted the request (its answer was unreadable): spent.
        if (charged || (error instanceof ProviderError && error.mayHaveBeenCharged)) reservation?.charged();
        throw new ImagegenError(
          `Could not generate "${spec.prompt}" (${where}) with ${provider.id}: ${(error as Error).message}`,
          { location: spec.source, cause: error },
        );
      }
      // The API is done with it: the next request starts while this one is stored.
      madeByTheApi();
      this.stats.generated++;
      // Settled before the bytes are checked: what the API made was charged, whatever becomes of it.
      const price = paid ? recordedPrice(spec.generation, image, options) : undefined;
      reservation?.settle(price);
      if (!paid) {
        const bytes = Buffer.from(image.bytes);
        const { width, height } = await (await loadSharp())(bytes).metadata();
        return { ref: { key, sha256: sha256Hex(bytes), width, height, stored: false, load: async () => bytes } satisfies OriginalRef };
      }
      return this.#storeGenerated(spec, image, { reroll, price });
    });
    if (!("meta" in made)) return made.ref;
    // Only the ref's weak hold on the bytes waits for the lock: a cold build of thousands queues its pins.
    // A new candidate waits for a person's decision: it is listed as pending, the pin stays.
    if (candidate) await this.#lock.addPending(made.meta);
    const pinned = candidate ? undefined : await this.#pinOrDefer(made.meta, spec);
    return pinned ?? made.ref;
  }

  /** Stores (and shares) a paid original; the ref it returns holds the bytes weakly (see {@link #storedRef}). */
  async #storeGenerated(
    spec: ImageSpec,
    image: GeneratedImage,
    { reroll, price }: { reroll: boolean; price: ReturnType<typeof recordedPrice> | undefined },
  ): Promise<{ meta: OriginalMeta; ref: OriginalRef }> {
    const { options } = this;
    const provider = options.provider;
    // A re-roll is a person's choice: of the key's candidates, it is the one taken when the lock pins none.
    const meta = await this.store.put(spec.generation, image, provider.id, { price, ...(reroll && { chosenAt: new Date().toISOString() }) });
    options.logger.info(`generated "${truncate(spec.prompt)}" with ${provider.id} (${meta.width}×${meta.height})`);
    const bytes = Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength);
    // Shared before it is pinned, so that no lock names an original the team cannot get; a failed
    // upload leaves it stored and locked here, for \`imagegen push\`.
    try {
      await this.#remote.share(meta, bytes);
    } catch (error) {
      const problem = (error as Error).message;
      this.notUploaded.push({ key: meta.key, prompt: spec.prompt, problem });
      options.logger.warn(`"${spec.prompt}" (${formatLocation(spec.source)}) was generated and stored, but not uploaded: ${problem} Run \`imagegen push\` once the remote store is reachable.`);
    }
    return { meta, ref: this.#storedRef(meta, bytes) };
  }

  /**
   * A ref to an original this run just stored: while its bytes are still in memory they serve a
   * load (the build renders at once); it never keeps them alive (a dev server's refs live as long as
   * the server), and once collected a load reads the store.
   */
  #storedRef(meta: OriginalMeta, bytes: Buffer): OriginalRef {
    const recent = new WeakRef(bytes);
    return {
      key: meta.key,
      sha256: meta.sha256,
      width: meta.width,
      height: meta.height,
      stored: true,
      load: async () => recent.deref() ?? this.store.readOriginal(meta),
      localFile: async () => this.#localFile(meta),
    };
  }

  /**
   * Pins a stored original in the lock. When the lock on disk meanwhile pins another original for
   * the key (a teammate's, brought by a git pull; another process's), that one stays and is
   * returned, and this one is kept in the store as a candidate; `undefined` when this one is pinned.
   */
  async #pinOrDefer(meta: OriginalMeta, spec: ImageSpec): Promise<OriginalRef | undefined> {
    try {
      await this.#lock.pin(meta);
      return undefined;
    } catch (error) {
      if (!(error instanceof PinnedElsewhereError)) throw error;
      this.options.logger.info(
        `${this.#relative(this.options.lockfilePath)} now pins another original of "${truncate(spec.prompt)}" (sha256 ${error.locked.sha256.slice(0, 12)}…): ` +
          `that one is used, and sha256 ${meta.sha256.slice(0, 12)}… is kept in ${this.#relative(this.options.storeDir)}/ as a candidate.`,
      );
      return (await this.#stored(meta.key, spec)) ?? (await this.#pinned(meta.key, spec));
    }
  }

  /**
   * Runs one generation in a slot of `concurrency`, freed when `generate` calls back that the API
   * has made the image (the provider's `paid()`) or when it ends: the download and its check then
   * overlap the next request, as the API is no longer busy with this one (32 prompts at
   * concurrency 8: four waves of API latency, not four of latency, download and check).
   */
  async #atTheApi<T>(generate: (madeByTheApi: () => void) => Promise<T>): Promise<T> {
    await this.#inFlight.acquire(1);
    try {
      await this.#atApi.acquire(1);
      let atApi = true;
      const madeByTheApi = () => {
        if (atApi) this.#atApi.release(1);
        atApi = false;
      };
      try {
        return await generate(madeByTheApi);
      } finally {
        madeByTheApi();
      }
    } finally {
      this.#inFlight.release(1);
    }
  }

  /** The derived cache's key of a spec's rendition of `original` (it names the encoder too). */
  async renditionKey(original: OriginalRef, spec: ImageSpec): Promise<string> {
    return renditionKey(original.sha256, spec.output, await this.derivedCache.encoder());
  }

  async #rendition(original: OriginalRef, spec: ImageSpec): Promise<Rendition> {
    const key = await this.renditionKey(original, spec);
    // Cache reads run at once; sharp's work is bounded by the process's render pool (variants.ts).
    return this.#shared(this.#renditions, key, async () => {
      const cached = await this.derivedCache.get(key);
      if (cached) {
        if (original.stored) this.#remote.used(key, "cached");
        return cached;
      }
      const fetched = original.stored ? await this.#remote.rendition(key) : undefined;
      if (fetched) {
        await this.derivedCache.set(key, fetched);
        return fetched;
      }
      const rendition = await renderVariants(original, spec.output).catch((error: unknown) => {
        // The store's own errors (a damaged original) already name the image and what to do.
        if (error instanceof ImagegenError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        throw new ImagegenError(`Could not render "${spec.prompt}" (${formatLocation(spec.source)}): ${message}`, { location: spec.source, cause: error });
      });
      this.stats.rendered++;
      await this.derivedCache.set(key, rendition);
      if (original.stored) {
        this.#remote.used(key, "rendered");
        await this.#remote.shareRendition(key, rendition);
      }
      return rendition;
    });
  }
}
