import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { RenderPool } from "../../src/render/render-pool.js";

/** A task that stays running until `finish()` is called, recording how many run at once. */
function gate() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { done, finish };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("RenderPool", () => {
  it("runs at most `pipelines` pipelines at once, in the order they were asked for", async () => {
    const pool = new RenderPool({ pipelines: 2, bytes: 100 });
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const all = gates.map((g, i) =>
      pool.pipeline(async () => {
        started.push(i);
        await g.done;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    gates[1]!.finish();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.finish();
    await Promise.all(all);
  });

  it("holds reservations within the byte budget, first come first served", async () => {
    const pool = new RenderPool({ pipelines: 4, bytes: 100 });
    const first = await pool.reserve(60);
    const granted: string[] = [];
    const second = pool.reserve(60).then((r) => (granted.push("second"), r));
    // 30 would fit, but waits its turn behind the second.
    const third = pool.reserve(30).then((r) => (granted.push("third"), r));
    await tick();
    expect(granted).toEqual([]);
    first.release(40); // part of it: 20 still held, 60 fits
    await tick();
    expect(granted).toEqual(["second"]);
    first.release(); // the rest: 60 + 30 fit
    await tick();
    expect(granted).toEqual(["second", "third"]);
    (await second).release();
    (await third).release();
    // Released twice is released once.
    first.release();
    const all = await pool.reserve(100);
    all.release();
  });

  it("lets a reservation larger than the whole budget through, alone", async () => {
    const pool = new RenderPool({ pipelines: 1, bytes: 100 });
    const big = await pool.reserve(500);
    let small = false;
    const next = pool.reserve(10).then((r) => ((small = true), r));
    await tick();
    expect(small).toBe(false);
    big.release();
    (await next).release();
    expect(small).toBe(true);
  });

  it("sets sharp's process-wide settings only while its pipelines run, and gives back the caller's", async () => {
    const before = { concurrency: sharp.concurrency(), cache: sharp.cache() };
    sharp.concurrency(3);
    sharp.cache({ memory: 40, files: 10, items: 70 });
    try {
      const pool = new RenderPool({ pipelines: 2, bytes: 100, sharp });
      const gates = [gate(), gate()];
      const seen: { concurrency: number; memory: number }[] = [];
      const runs = gates.map((g) =>
        pool.pipeline(async () => {
          seen.push({ concurrency: sharp.concurrency(), memory: sharp.cache().memory.max });
          await g.done;
        }),
      );
      await tick();
      gates[0]!.finish();
      await runs[0];
      // One of its pipelines still runs: still imagegen's settings.
      expect(sharp.concurrency()).toBe(1);
      gates[1]!.finish();
      await Promise.all(runs);
      expect(seen).toEqual([
        { concurrency: 1, memory: 0 },
        { concurrency: 1, memory: 0 },
      ]);
      expect(sharp.concurrency()).toBe(3);
      expect(sharp.cache()).toMatchObject({ memory: { max: 40 }, files: { max: 10 }, items: { max: 70 } });
    } finally {
      sharp.concurrency(before.concurrency);
      sharp.cache({ memory: before.cache.memory.max, files: before.cache.files.max, items: before.cache.items.max });
    }
  });

  it("runs a pipeline alone after those before it, with none beside it, on every pipeline's thread", async () => {
    const before = sharp.concurrency();
    sharp.concurrency(3);
    try {
      const pool = new RenderPool({ pipelines: 2, bytes: 100, sharp });
      const gates = [gate(), gate(), gate(), gate()];
      const started: string[] = [];
      const threads: number[] = [];
      const run = (name: string, g: ReturnType<typeof gate>, alone: boolean) =>
        pool.pipeline(
          async () => {
            started.push(name);
            threads.push(sharp.concurrency());
            await g.done;
          },
          { alone },
        );
      const runs = [run("small 1", gates[0]!, false), run("large", gates[1]!, true), run("small 2", gates[2]!, false), run("small 3", gates[3]!, false)];
      await tick();
      // A free slot is not enough for the large one, and the small ones after it wait their turn.
      expect(started).toEqual(["small 1"]);
      gates[0]!.finish();
      await tick();
      expect(started).toEqual(["small 1", "large"]);
      gates[1]!.finish();
      await tick();
      expect(started).toEqual(["small 1", "large", "small 2", "small 3"]);
      expect(threads).toEqual([1, 2, 1, 1]);
      gates[2]!.finish();
      gates[3]!.finish();
      await Promise.all(runs);
      expect(sharp.concurrency()).toBe(3);
    } finally {
      sharp.concurrency(before);
    }
  });
});
