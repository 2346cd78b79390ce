import os from "node:os";
import pLimit, { type LimitFunction } from "p-limit";
import type { SharpModule } from "../sharp.js";

/**
 * Where sharp's work runs. One per process (sharp's settings are process-wide, and a client and
 * an SSR build in one process share the same cores):
 * - `pipeline` runs one sharp pipeline (a decode or an encode) at a time per core. sharp runs each
 *   pipeline on a libuv thread; running more at once than there are cores only adds memory, and
 *   would take every libuv thread from the file reads and writes of the build.
 * - `reserve` bounds how many pixels of decoded originals and resized frames are held at once,
 *   so that a build of many 4K images keeps a few in memory rather than all those in flight.
 */
export class RenderPool {
  readonly pipelines: number;
  readonly pixels: number;
  readonly #pipeline: LimitFunction;
  readonly #pixels: PixelBudget;
  readonly #sharp: SharpModule | undefined;

  /** @param options.sharp when given, sharp's settings are imagegen's while a pipeline runs ({@link ownSharpSettings}) */
  constructor(options: { pipelines: number; pixels: number; sharp?: SharpModule }) {
    this.pipelines = options.pipelines;
    this.pixels = options.pixels;
    this.#pipeline = pLimit(options.pipelines);
    this.#pixels = new PixelBudget(options.pixels);
    this.#sharp = options.sharp;
  }

  pipeline<T>(work: () => Promise<T>): Promise<T> {
    const sharp = this.#sharp;
    if (!sharp) return this.#pipeline(work);
    return this.#pipeline(async () => {
      const restore = ownSharpSettings(sharp);
      try {
        return await work();
      } finally {
        restore();
      }
    });
  }

  /**
   * Waits until `pixels` fit in the budget (an image larger than the whole budget waits to run
   * alone) and holds them until released: part by part with `release(pixels)`, the rest with `release()`.
   */
  async reserve(pixels: number): Promise<PixelReservation> {
    await this.#pixels.acquire(pixels);
    let held = pixels;
    return {
      release: (part = held) => {
        const freed = Math.min(part, held);
        held -= freed;
        if (freed > 0) this.#pixels.release(freed);
      },
    };
  }
}

export interface PixelReservation {
  /** Gives back `pixels` of the reservation (all that is left by default); extra calls do nothing. */
  release(pixels?: number): void;
}

/** A FIFO weighted semaphore counted in pixels. */
class PixelBudget {
  readonly #capacity: number;
  #used = 0;
  readonly #waiting: { pixels: number; start: () => void }[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  acquire(pixels: number): Promise<void> {
    if (this.#waiting.length === 0 && this.#fits(pixels)) {
      this.#used += pixels;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push({ pixels, start: resolve }));
  }

  release(pixels: number): void {
    this.#used -= pixels;
    // First come, first served: a large image is never overtaken for ever by small ones.
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0]!.pixels)) {
      const next = this.#waiting.shift()!;
      this.#used += next.pixels;
      next.start();
    }
  }

  #fits(pixels: number): boolean {
    return this.#used === 0 || this.#used + pixels <= this.#capacity;
  }
}

/** Two 4K originals (4096²), or one with its frames and those of the next ones. */
const DEFAULT_PIXELS = 2 * 4096 * 4096;

let shared: RenderPool | undefined;

/** The process's pool, made on first use. */
export function sharedRenderPool(sharp: SharpModule): RenderPool {
  if (!shared) {
    shared = new RenderPool({
      sharp,
      pipelines: Math.max(1, Math.min(os.availableParallelism(), libuvThreads() - 1)),
      pixels: DEFAULT_PIXELS,
    });
  }
  return shared;
}

let running = 0;
let saved: { concurrency: number; cache: ReturnType<SharpModule["cache"]> } | undefined;

/**
 * While any of imagegen's pipelines runs, sharp's own concurrency (threads per pipeline) is 1:
 * parallelism comes from one pipeline per core, which keeps every core busy on independent work
 * instead of splitting one encode across threads that wait on each other; and libvips's operation
 * cache, which holds decoded inputs, is off: nothing is rendered twice. Both are process-wide, so
 * they are given back as they were as soon as none of imagegen's pipelines runs: another plugin in
 * the same process keeps its own. Returns the function that ends this pipeline's claim.
 */
function ownSharpSettings(sharp: SharpModule): () => void {
  if (running++ === 0) {
    saved = { concurrency: sharp.concurrency(), cache: sharp.cache() };
    sharp.concurrency(1);
    sharp.cache(false);
  }
  return () => {
    if (--running > 0 || !saved) return;
    const { concurrency, cache } = saved;
    sharp.concurrency(concurrency);
    sharp.cache({ memory: cache.memory.max, files: cache.files.max, items: cache.items.max });
    saved = undefined;
  };
}

/** sharp pipelines and file system calls share libuv's pool (4 threads unless set). */
function libuvThreads(): number {
  const size = Number(process.env["UV_THREADPOOL_SIZE"]);
  return Number.isInteger(size) && size > 0 ? size : 4;
}
