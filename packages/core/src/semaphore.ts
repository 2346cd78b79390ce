/**
 * A FIFO weighted semaphore: render pipelines and bytes (render/render-pool.ts), generations at the
 * API and in flight (engine.ts). A request larger than the whole capacity runs alone.
 */
export class WeightedSemaphore {
  readonly #capacity: number;
  #used = 0;
  readonly #waiting: { units: number; start: () => void }[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  acquire(units: number): Promise<void> {
    if (this.#waiting.length === 0 && this.#fits(units)) {
      this.#used += units;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push({ units, start: resolve }));
  }

  release(units: number): void {
    this.#used -= units;
    // First come, first served: a large image is never overtaken for ever by small ones.
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0]!.units)) {
      const next = this.#waiting.shift()!;
      this.#used += next.units;
      next.start();
    }
  }

  #fits(units: number): boolean {
    return this.#used === 0 || this.#used + units <= this.#capacity;
  }
}
