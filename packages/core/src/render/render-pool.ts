import os from "node:os";
import type { SharpModule } from "../sharp.js";
import { WeightedSemaphore } from "../semaphore.js";

/**
 * Where sharp's work runs. One per process (sharp's settings are process-wide, and a client and
 * an SSR build in one process share the same cores):
 * - `pipeline` runs one sharp pipeline (a decode or an encode) at a time per core. sharp runs each
 *   pipeline on a libuv thread; running more at once than there are cores only adds memory, and
 *   would take every libuv thread from the file reads and writes of the build. A pipeline `alone`
 *   (the work of a large original) runs with no other, on every core.
 * - `reserve` bounds the bytes of decoded originals and resized frames held at once (`bytes`),
 *   so that a build of many 4K images keeps a few in memory rather than all those in flight.
 */
export class RenderPool {
  readonly pipelines: number;
  readonly bytes: number;
  readonly #slots: WeightedSemaphore;
  readonly #frames: WeightedSemaphore;
  #sharp: SharpModule | undefined;

  /** @param options.sharp when given, sharp's settings are imagegen's while a pipeline runs ({@link ownSharpSettings}) */
  constructor(options: { pipelines: number; bytes: number; sharp?: SharpModule }) {
    this.pipelines = options.pipelines;
    this.bytes = options.bytes;
    this.#slots = new WeightedSemaphore(options.pipelines);
    this.#frames = new WeightedSemaphore(options.bytes);
    this.#sharp = options.sharp;
  }

  /** Gives a pool made without sharp (its first work ran in the render process) sharp's settings from now on. */
  useSharp(sharp: SharpModule): this {
    this.#sharp ??= sharp;
    return this;
  }

  /**
   * Runs `work` (one sharp pipeline) in turn. With `alone`, it waits for the pipelines before it,
   * runs with no other, and sharp splits it over `pipelines` threads: two 4K encodes side by side
   * held 790–950 MiB where one at a time on both cores holds 620–730 MiB, for 16 % more time.
   */
  async pipeline<T>(work: () => Promise<T>, { alone = false }: { alone?: boolean } = {}): Promise<T> {
    const slots = alone ? this.pipelines : 1;
    await this.#slots.acquire(slots);
    const restore = this.#sharp ? ownSharpSettings(this.#sharp, slots) : undefined;
    try {
      return await work();
    } finally {
      restore?.();
      this.#slots.release(slots);
    }
  }

  /**
   * Waits until `bytes` fit in the budget (more than the whole budget waits to run alone) and
   * holds them until released: part by part with `release(bytes)`, the rest with `release()`.
   */
  async reserve(bytes: number): Promise<MemoryReservation> {
    await this.#frames.acquire(bytes);
    let held = bytes;
    return {
      release: (part = held) => {
        const freed = Math.min(part, held);
        held -= freed;
        if (freed > 0) this.#frames.release(freed);
      },
    };
  }
}

export interface MemoryReservation {
  /** Gives back `bytes` of the reservation (all that is left by default); extra calls do nothing. */
  release(bytes?: number): void;
}

/** Two 4K originals (4096², RGBA), or one with its frames and those of the next ones. */
const DEFAULT_BYTES = 2 * 4096 * 4096 * 4;

let shared: RenderPool | undefined;

/**
 * The process's pool, made on first use. `sharp` is given by callers whose work runs sharp in this
 * process; work sent to the render process needs none, and does not import it.
 */
export function sharedRenderPool(sharp?: SharpModule): RenderPool {
  shared ??= new RenderPool({
    pipelines: Math.max(1, Math.min(os.availableParallelism(), libuvThreads() - 1)),
    bytes: DEFAULT_BYTES,
  });
  return sharp ? shared.useSharp(sharp) : shared;
}

let running = 0;
let saved: { concurrency: number; cache: ReturnType<SharpModule["cache"]> } | undefined;

/**
 * While any of imagegen's pipelines runs, sharp's own concurrency (threads per pipeline) is
 * `threads`, 1 unless the pipeline runs alone: parallelism comes from one pipeline per core, which
 * keeps every core busy on independent work instead of splitting one encode across threads that
 * wait on each other; and libvips's operation cache, which holds decoded inputs, is off: nothing is
 * rendered twice. Both are process-wide, so they are given back as they were as soon as none of
 * imagegen's pipelines runs: another plugin in the same process keeps its own. Returns the
 * function that ends this pipeline's claim.
 */
function ownSharpSettings(sharp: SharpModule, threads: number): () => void {
  if (running++ === 0) {
    saved = { concurrency: sharp.concurrency(), cache: sharp.cache() };
    sharp.cache(false);
  }
  // A pipeline alone has the pool to itself (no other runs until it ends); one beside others asks for 1.
  sharp.concurrency(threads);
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
