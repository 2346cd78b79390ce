// What every dev server does alike (SPEC §11): an original that is missing is generated in the
// background, once per key, with its progress in the terminal, while the page shows stand-ins.
import { type Engine, type ImageSpec, type Logger, originalKey, truncate } from "@imagegen/core";

/** What a dev server does once a background generation ends, for the modules that wait for it. */
export interface GenerationOutcome {
  ready(moduleIds: Set<string>): void;
  failed(error: Error, moduleIds: Set<string>): void;
}

/**
 * Whether a missing original is made in the background: the placeholder provider's images are
 * made in moments and frozen mode fails at once, so neither waits behind a stand-in.
 */
export function generatesInBackground(engine: Engine): boolean {
  return !engine.options.frozen && engine.options.provider.persistent !== false;
}

/** The generations a dev server runs in the background, one per key, and who waits for each. */
export class BackgroundGenerations {
  readonly #running = new Map<string, Set<string>>();
  readonly #logger: () => Logger;
  /** How a file is named in the terminal (relative to the project root). */
  readonly #relative: (file: string) => string;
  #closed = false;

  constructor(logger: () => Logger, relative: (file: string) => string) {
    this.#logger = logger;
    this.#relative = relative;
  }

  get size(): number {
    return this.#running.size;
  }

  /** Generates `spec`'s original unless it is already on its way; `moduleId` is told when it ends. */
  start(engine: Engine, spec: ImageSpec, moduleId: string, outcome: GenerationOutcome): void {
    const key = originalKey(spec.generation);
    const waiting = this.#running.get(key);
    if (waiting) {
      waiting.add(moduleId);
      return;
    }
    const modules = new Set([moduleId]);
    this.#running.set(key, modules);
    const logger = this.#logger();
    const started = performance.now();
    logger.info(`generating "${truncate(spec.prompt)}" for ${this.#relative(spec.source.file)} in the background (${this.#running.size} in progress)`);
    engine.resolveOriginal(spec).then(
      () => {
        this.#running.delete(key);
        if (this.#closed) return;
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        logger.info(`"${truncate(spec.prompt)}" is ready after ${seconds} s; updating the page (${this.#running.size} still generating)`);
        outcome.ready(modules);
      },
      (error: unknown) => {
        this.#running.delete(key);
        if (this.#closed) return;
        logger.warn((error as Error).message);
        outcome.failed(error as Error, modules);
      },
    );
  }

  /** The server is closing: nothing is reported any more (the engine's signal stops the work). */
  close(): void {
    this.#closed = true;
    if (this.#running.size > 0) this.#logger().info(`cancelled ${this.#running.size} generation(s) in progress`);
  }
}
