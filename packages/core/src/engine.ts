import path from "node:path";
import { removeStaleTempFiles } from "./store/atomic-write.js";
import { DerivedCache, renditionKey } from "./store/derived-cache.js";
import { ImagegenError, formatLocation, truncate } from "./errors.js";
import { generateWithRetry } from "./generate/generate-with-retry.js";
import type { AssetPaths } from "./generate/provider.js";
import { storeAssetPaths } from "./store/asset-paths.js";
import { type OriginalKey, originalKey, sha256Hex } from "./spec/key.js";
import { type LockEntry, lockEntryFor, readLockfile, updateLockfile, type LockfileData } from "./store/lockfile.js";
import type { ResolvedOptions } from "./project/options.js";
import type { ImageSpec } from "./spec/spec.js";
import { DamagedOriginalError, type OriginalMeta, Store } from "./store/store.js";
import { type PlannedVariant, type Rendition, type Variant, inFormatOrder, renderPlaceholder, renderVariant, renderVariants } from "./render/variants.js";
import { CorruptRemoteObjectError, type RemoteStore } from "./store/remote.js";
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
}

/**
 * Turns specs into originals and renditions. One engine lives as long as a build or a CLI run:
 * each original and each rendition is worked out at most once, however many modules ask.
 */
export class Engine {
  readonly options: ResolvedOptions;
  readonly store: Store;
  readonly derivedCache: DerivedCache;
  readonly stats: EngineStats = { cached: 0, downloaded: 0, uploaded: 0, remoteRenditions: 0, generated: 0, rendered: 0 };

  readonly #originals = new Map<OriginalKey, Promise<OriginalRef>>();
  readonly #renditions = new Map<string, Promise<Rendition>>();
  readonly #variants = new Map<string, Promise<Variant>>();
  readonly #placeholders = new Map<string, Promise<string | undefined>>();
  readonly #downloads = new Map<OriginalKey, Promise<Buffer>>();
  /** Generations at the API at once (`concurrency`): a slot is freed as soon as the API has made the image. */
  readonly #atApi: WeightedSemaphore;
  /** Generations in flight with their downloads: twice `concurrency`, so that downloads never pile up. */
  readonly #inFlight: WeightedSemaphore;
  readonly #assetPaths: AssetPaths;
  #lockfile: Promise<LockfileData> | undefined;
  #paidGenerationsStarted = 0;
  #leftovers: Promise<void> | undefined;
  #warnedPlaceholder = false;
  /** Keys being re-rolled (`imagegen generate --force`): their lock entry no longer pins them. */
  readonly #unpinned = new Set<OriginalKey>();
  /** Set once a remote rendition read or write failed: the rest of the run renders locally. */
  #remoteRenditionsOff = false;
  readonly #signal: AbortSignal | undefined;

  constructor(options: ResolvedOptions, { signal }: EngineOptions = {}) {
    this.options = options;
    this.#signal = signal;
    this.store = new Store(options.storeDir);
    this.derivedCache = new DerivedCache(options.cacheDir);
    this.#atApi = new WeightedSemaphore(options.concurrency);
    this.#inFlight = new WeightedSemaphore(options.concurrency * 2);
    this.#assetPaths = storeAssetPaths(options.storeDir);
  }

  async resolveImage(spec: ImageSpec): Promise<ImageResult> {
    const original = await this.resolveOriginal(spec);
    const rendition = inFormatOrder(await this.#rendition(original, spec), spec.output.formats);
    return { spec, original, rendition };
  }

  /** The original of a spec: from the store, or generated once (shared by every caller). */
  resolveOriginal(spec: ImageSpec): Promise<OriginalRef> {
    this.#leftovers ??= this.#removeLeftovers();
    const key = originalKey(spec.generation);
    // A failure is not remembered: the next build (or dev-server reload) tries again.
    return this.#once(this.#originals, key, () => this.#findOrGenerate(key, spec));
  }

  /**
   * The original of a spec when the store (or, for a locked key, the remote store) already holds
   * it, without generating: for a caller that shows something else while {@link resolveOriginal}
   * runs (the dev server).
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
    return this.#once(this.#variants, `${key}:${planned.format}:${planned.width}`, async () => {
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

  /**
   * Temporary files of writes that a killed build left behind (readers never see them, but they
   * should not end up in git). Only dead writers' and old ones: a running build's are kept.
   */
  async #removeLeftovers(): Promise<void> {
    const { storeDir, cacheDir, lockfilePath } = this.options;
    await Promise.all([
      removeStaleTempFiles(storeDir),
      removeStaleTempFiles(cacheDir),
      removeStaleTempFiles(path.dirname(lockfilePath), undefined, path.basename(lockfilePath)),
    ]).catch(() => {});
  }

  /**
   * After a build: records which derived-cache entries it used, and removes the least recently
   * used ones of other builds until the cache fits `cacheMaxBytes`. Never fails a build.
   */
  async trimDerivedCache(): Promise<void> {
    await this.derivedCache.trim(this.options.cacheMaxBytes).catch((error: unknown) => {
      this.options.logger.warn(`Could not trim the derived cache ${this.#relative(this.options.cacheDir)}: ${(error as Error).message}`);
    });
  }

  /** Frozen builds and throwaway (placeholder) providers write neither the store nor the lock. */
  get #readOnly(): boolean {
    return this.options.frozen || this.options.provider.persistent === false;
  }

  #lockfileData(): Promise<LockfileData> {
    this.#lockfile ??= readLockfile(this.options.lockfilePath);
    return this.#lockfile;
  }

  /**
   * Lets the next resolution of `key` pay for a new original although the lock pins another:
   * `imagegen generate --force`, the one way a locked image is replaced.
   */
  unpin(key: OriginalKey): void {
    this.#unpinned.add(key);
  }

  /** Local store, then remote store, then a provider: only a key the lock does not pin is paid for. */
  async #findOrGenerate(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef> {
    return (await this.#stored(key, spec)) ?? (await this.#pinned(key, spec)) ?? this.#generate(key, spec);
  }

  /**
   * A locked original that the local store lacks: read from the remote store, lazily, since a
   * cached rendition needs no original. Without a remote it is an error: a new generation would be
   * a different image, so it is never paid for silently. `undefined` for an unlocked key.
   */
  async #pinned(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef | undefined> {
    const locked = (await this.#lockfileData()).images[key];
    if (!locked || this.#unpinned.has(key)) return undefined;
    if (!this.options.remote) throw this.#missingEverywhere(key, spec, locked);
    return {
      key,
      sha256: locked.sha256,
      width: locked.width,
      height: locked.height,
      stored: true,
      // One download per key, however many refs the dev server makes of it; a failed one is tried again.
      load: () => this.#once(this.#downloads, key, () => this.#download(key, spec, locked)),
    };
  }

  /** Downloads a locked original from the remote (checked against the lock's sha256) into the local store. */
  async #download(key: OriginalKey, spec: ImageSpec, locked: LockEntry): Promise<Buffer> {
    const remote = this.options.remote!;
    let found: Awaited<ReturnType<RemoteStore["getOriginal"]>>;
    try {
      found = await remote.getOriginal(locked.sha256);
    } catch (error) {
      const problem = error instanceof CorruptRemoteObjectError ? `it is corrupt: ${error.message}` : (error as Error).message;
      throw new ImagegenError(
        `Could not get the original of "${spec.prompt}" (${formatLocation(spec.source)}) from the remote store: ${problem} ` +
          `Nothing was generated: the lock pins this image.`,
        { location: spec.source, cause: error },
      );
    }
    if (!found) throw this.#missingEverywhere(key, spec, locked);
    const { recordId, provider } = found.meta;
    await this.store.put(spec.generation, { bytes: found.bytes, ...(recordId !== undefined && { recordId }) }, provider);
    this.stats.downloaded++;
    return found.bytes;
  }

  #missingEverywhere(key: OriginalKey, spec: ImageSpec, locked: LockEntry): MissingOriginalError {
    const store = `${this.#relative(this.options.storeDir)}/`;
    const where = this.options.remote ? `neither in ${store} nor in ${this.options.remote.url}` : `not in ${store}`;
    return new MissingOriginalError(
      `The original of "${spec.prompt}" (${formatLocation(spec.source)}) is locked in ${this.#relative(this.options.lockfilePath)} ` +
        `(sha256 ${locked.sha256.slice(0, 12)}…) but is ${where}; nothing was generated, ` +
        `since a new generation would be a different image. Restore it, or run \`imagegen generate --force ${spec.source.name ?? key}\` to make a new one.`,
      spec,
    );
  }

  /** The stored original of `key`, checked against the lock; `undefined` when the store has none. */
  async #stored(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef | undefined> {
    const lock = await this.#lockfileData();
    const locked = lock.images[key];
    let meta: OriginalMeta | undefined;
    try {
      meta = await this.store.readMeta(key);
      // Only the size here (no read): the bytes are hashed when they are loaded, on a cache miss.
      if (meta) await this.store.checkOriginal(meta);
    } catch (error) {
      throw error instanceof DamagedOriginalError ? this.#damaged(spec, locked, error) : error;
    }
    if (!meta) return undefined;
    if (locked && locked.sha256 !== meta.sha256) {
      throw new ImagegenError(
        `The stored original of "${spec.prompt}" (${formatLocation(spec.source)}) does not match ${this.#relative(this.options.lockfilePath)} ` +
          `(key ${key}); restore it from git, or run \`imagegen generate --force ${key}\` to make a new one.`,
        { location: spec.source },
      );
    }
    // Frozen and placeholder builds read the lock and the store but never write them (a CI checkout stays clean).
    if (!locked && !this.#readOnly) await this.#recordInLock(meta);
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
    };
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
    const relative = path.relative(this.options.root, file);
    return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
  }

  #relativePaths(text: string): string {
    return text.replaceAll(`${this.options.root}${path.sep}`, "");
  }

  async #generate(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef> {
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
    }
    if (!paid) return this.#generateNow(key, spec);
    if (this.#paidGenerationsStarted >= options.maxGenerations) {
      throw new ImagegenError(
        `Not generating "${spec.prompt}" (${where}): this run has reached maxGenerations (${options.maxGenerations}).`,
        { location: spec.source },
      );
    }
    this.#paidGenerationsStarted++;
    // Another build sharing the store may be generating the same key: wait for it, then look again.
    const keyLock = await this.store.lock(key, {
      signal: this.#signal,
      onWait: (holder) =>
        options.logger.info(
          `waiting for another imagegen process${holder ? ` (pid ${holder.pid} on ${holder.hostname})` : ""} that is generating "${truncate(spec.prompt)}"`,
        ),
    });
    try {
      const stored = await this.#stored(key, spec);
      if (stored) {
        this.#paidGenerationsStarted--;
        return stored;
      }
      return await this.#generateNow(key, spec);
    } finally {
      await keyLock.release();
    }
  }

  async #generateNow(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef> {
    const { options } = this;
    const provider = options.provider;
    const paid = provider.persistent !== false;
    const where = formatLocation(spec.source);
    // What comes back is decoded: import sharp (a blocking ~50–200 ms) while the request is out, not after.
    loadSharp().catch(() => {});
    const image = await this.#atTheApi(async (madeByTheApi) => {
      try {
        return await generateWithRetry(provider, spec.generation, {
          attempts: options.attempts,
          maxRetryAfterMs: options.maxRetryAfterMs,
          timeoutMs: options.timeoutMs,
          minDelayMs: options.retryDelayMs,
          ...(paid ? { assets: this.#assetPaths } : {}),
          signal: this.#signal,
          onPaid: madeByTheApi,
        });
      } catch (error) {
        throw new ImagegenError(
          `Could not generate "${spec.prompt}" (${where}) with ${provider.id}: ${(error as Error).message}`,
          { location: spec.source, cause: error },
        );
      }
    });
    this.stats.generated++;

    if (!paid) {
      const bytes = Buffer.from(image.bytes);
      const { width, height } = await (await loadSharp())(bytes).metadata();
      return { key, sha256: sha256Hex(bytes), width, height, stored: false, load: async () => bytes };
    }
    const meta = await this.store.put(spec.generation, image, provider.id);
    await this.#recordInLock(meta);
    options.logger.info(`generated "${truncate(spec.prompt)}" with ${provider.id} (${meta.width}×${meta.height})`);
    const bytes = Buffer.from(image.bytes);
    if (options.remote?.writable) {
      try {
        await options.remote.putOriginal(meta, bytes);
        this.stats.uploaded++;
      } catch (error) {
        throw new ImagegenError(
          `"${spec.prompt}" (${where}) was generated, stored and locked, but not uploaded: ${(error as Error).message} ` +
            "Run `imagegen push` once the remote store is reachable.",
          { location: spec.source, cause: error },
        );
      }
    }
    return { key, sha256: meta.sha256, width: meta.width, height: meta.height, stored: true, load: async () => bytes };
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

  async #recordInLock(meta: Parameters<typeof lockEntryFor>[0]): Promise<void> {
    const data = await updateLockfile(this.options.lockfilePath, (lock) => {
      lock.images[meta.key] = lockEntryFor(meta);
    });
    this.#lockfile = Promise.resolve(data);
  }

  /** The derived cache's key of a spec's rendition of `original` (it names the encoder too). */
  async renditionKey(original: OriginalRef, spec: ImageSpec): Promise<string> {
    return renditionKey(original.sha256, spec.output, await this.derivedCache.encoder());
  }

  async #rendition(original: OriginalRef, spec: ImageSpec): Promise<Rendition> {
    const key = await this.renditionKey(original, spec);
    // Cache reads run at once; sharp's work is bounded by the process's render pool (variants.ts).
    return this.#once(this.#renditions, key, async () => {
      const cached = await this.derivedCache.get(key);
      if (cached) return cached;
      const fetched = original.stored ? await this.#remoteRendition(key) : undefined;
      if (fetched) {
        await this.derivedCache.set(key, fetched);
        return fetched;
      }
      const rendition = await renderVariants(original, spec.output);
      this.stats.rendered++;
      await this.derivedCache.set(key, rendition);
      if (original.stored) await this.#uploadRendition(key, rendition);
      return rendition;
    });
  }

  /** A rendition from the remote's `derived/`, or `undefined` (a miss, a corrupt entry, an unreachable remote: it is rendered here). */
  async #remoteRendition(key: string): Promise<Rendition | undefined> {
    const { remote } = this.options;
    if (!remote || this.#remoteRenditionsOff) return undefined;
    try {
      const rendition = await remote.getRendition(key);
      if (rendition) this.stats.remoteRenditions++;
      return rendition;
    } catch (error) {
      if (error instanceof CorruptRemoteObjectError) {
        this.options.logger.warn(`${error.message}; rendering it here instead.`);
      } else {
        this.#remoteRenditionsOff = true;
        this.options.logger.warn(`${(error as Error).message} Renditions are rendered here for the rest of this run.`);
      }
      return undefined;
    }
  }

  /** Shares a new rendition through the remote; a failure costs the next machine an encode, so it only warns. */
  async #uploadRendition(key: string, rendition: Rendition): Promise<void> {
    const { remote } = this.options;
    if (!remote?.writable || this.#remoteRenditionsOff) return;
    try {
      await remote.putRendition(key, rendition);
      this.stats.uploaded++;
    } catch (error) {
      this.#remoteRenditionsOff = true;
      this.options.logger.warn(`${(error as Error).message} Renditions are not uploaded for the rest of this run.`);
    }
  }
}
