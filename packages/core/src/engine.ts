import os from "node:os";
import pLimit, { type LimitFunction } from "p-limit";
import sharp from "sharp";
import { DerivedCache, renditionKey } from "./derived-cache.js";
import { ImagegenError, formatLocation } from "./errors.js";
import { generateWithRetry } from "./generate-with-retry.js";
import { type OriginalKey, originalKey, sha256Hex } from "./key.js";
import { lockEntryFor, readLockfile, updateLockfile, type LockfileData } from "./lockfile.js";
import type { ResolvedOptions } from "./options.js";
import type { ImageSpec } from "./spec.js";
import { Store } from "./store.js";
import { type Rendition, renderVariants } from "./variants.js";

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

export interface EngineStats {
  /** Originals read from the store. */
  cached: number;
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
  readonly stats: EngineStats = { cached: 0, generated: 0, rendered: 0 };

  readonly #originals = new Map<OriginalKey, Promise<OriginalRef>>();
  readonly #renditions = new Map<string, Promise<Rendition>>();
  readonly #generationLimit: LimitFunction;
  // sharp runs each pipeline on libuv threads; more pipelines than cores only adds memory.
  readonly #renderLimit = pLimit(Math.max(1, os.availableParallelism()));
  #lockfile: Promise<LockfileData> | undefined;
  #paidGenerationsStarted = 0;
  #warnedPlaceholder = false;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.store = new Store(options.storeDir);
    this.derivedCache = new DerivedCache(options.cacheDir);
    this.#generationLimit = pLimit(options.concurrency);
  }

  async resolveImage(spec: ImageSpec): Promise<ImageResult> {
    const original = await this.resolveOriginal(spec);
    const rendition = await this.#rendition(original, spec);
    return { spec, original, rendition };
  }

  /** The original of a spec: from the store, or generated once (shared by every caller). */
  resolveOriginal(spec: ImageSpec): Promise<OriginalRef> {
    const key = originalKey(spec.generation);
    let pending = this.#originals.get(key);
    if (!pending) {
      pending = this.#findOrGenerate(key, spec);
      this.#originals.set(key, pending);
      // A failure is not remembered: the next build (or dev-server reload) tries again.
      pending.catch(() => this.#originals.delete(key));
    }
    return pending;
  }

  #lock(): Promise<LockfileData> {
    this.#lockfile ??= readLockfile(this.options.lockfilePath);
    return this.#lockfile;
  }

  async #findOrGenerate(key: OriginalKey, spec: ImageSpec): Promise<OriginalRef> {
    const [meta, lock] = await Promise.all([this.store.readMeta(key), this.#lock()]);
    const locked = lock.images[key];
    if (meta) {
      if (locked && locked.sha256 !== meta.sha256) {
        throw new ImagegenError(
          `The stored original of "${spec.prompt}" (${formatLocation(spec.source)}) does not match ${this.options.lockfilePath} ` +
            `(key ${key}); restore it from git, or run \`imagegen generate --force ${key}\` to make a new one.`,
          { location: spec.source },
        );
      }
      if (!locked) await this.#recordInLock(meta);
      this.stats.cached++;
      return {
        key,
        sha256: meta.sha256,
        width: meta.width,
        height: meta.height,
        stored: true,
        load: () => this.store.readOriginal(meta),
      };
    }
    return this.#generate(key, spec);
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
    if (paid) {
      if (this.#paidGenerationsStarted >= options.maxGenerations) {
        throw new ImagegenError(
          `Not generating "${spec.prompt}" (${where}): this run has reached maxGenerations (${options.maxGenerations}).`,
          { location: spec.source },
        );
      }
      this.#paidGenerationsStarted++;
    }

    const image = await this.#generationLimit(async () => {
      try {
        return await generateWithRetry(provider, spec.generation, {
          retries: options.retries,
          timeoutMs: options.timeoutMs,
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
      const { width, height } = await sharp(bytes).metadata();
      return { key, sha256: sha256Hex(bytes), width, height, stored: false, load: async () => bytes };
    }
    const meta = await this.store.put(spec.generation, image, provider.id);
    await this.#recordInLock(meta);
    options.logger.info(`generated "${truncate(spec.prompt)}" with ${provider.id} (${meta.width}×${meta.height})`);
    const bytes = Buffer.from(image.bytes);
    return { key, sha256: meta.sha256, width: meta.width, height: meta.height, stored: true, load: async () => bytes };
  }

  async #recordInLock(meta: Parameters<typeof lockEntryFor>[0]): Promise<void> {
    const data = await updateLockfile(this.options.lockfilePath, (lock) => {
      lock.images[meta.key] = lockEntryFor(meta);
    });
    this.#lockfile = Promise.resolve(data);
  }

  #rendition(original: OriginalRef, spec: ImageSpec): Promise<Rendition> {
    const key = renditionKey(original.sha256, spec.output);
    let pending = this.#renditions.get(key);
    if (!pending) {
      pending = this.#renderLimit(async () => {
        const cached = await this.derivedCache.get(key);
        if (cached) return cached;
        const rendition = await renderVariants(await original.load(), spec.output);
        this.stats.rendered++;
        await this.derivedCache.set(key, rendition);
        return rendition;
      });
      this.#renditions.set(key, pending);
      pending.catch(() => this.#renditions.delete(key));
    }
    return pending;
  }
}

function truncate(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
