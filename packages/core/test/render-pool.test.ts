import { describe, expect, it } from "vitest";
import { RenderPool } from "../src/render-pool.js";

/** A task that stays running until `finish()` is called, recording how many run at once. */
function gate() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { done, finish };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("RenderPool", () => {
  it("runs at most `pipelines` pipelines at once, in the order they were asked for", async () => {
    const pool = new RenderPool({ pipelines: 2, decodedPixels: 100 });
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

  it("holds decoded originals within the pixel budget, first come first served", async () => {
    const pool = new RenderPool({ pipelines: 4, decodedPixels: 100 });
    const gates = [gate(), gate(), gate()];
    const started: string[] = [];
    const sizes = [60, 60, 30];
    const all = gates.map((g, i) =>
      pool.withDecoded(sizes[i]!, async () => {
        started.push(`${i}`);
        await g.done;
      }),
    );
    await tick();
    // 60 + 60 exceeds 100; the third (30 would fit) waits its turn behind the second.
    expect(started).toEqual(["0"]);
    gates[0]!.finish();
    await tick();
    expect(started).toEqual(["0", "1", "2"]);
    for (const g of gates) g.finish();
    await Promise.all(all);
  });

  it("lets an original larger than the whole budget run, alone", async () => {
    const pool = new RenderPool({ pipelines: 1, decodedPixels: 100 });
    const big = gate();
    const started: string[] = [];
    const first = pool.withDecoded(500, async () => {
      started.push("big");
      await big.done;
    });
    const second = pool.withDecoded(10, async () => {
      started.push("small");
    });
    await tick();
    expect(started).toEqual(["big"]);
    big.finish();
    await Promise.all([first, second]);
    expect(started).toEqual(["big", "small"]);
  });

  it("releases the budget when the work fails", async () => {
    const pool = new RenderPool({ pipelines: 1, decodedPixels: 100 });
    await expect(pool.withDecoded(100, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(pool.withDecoded(100, async () => "ok")).resolves.toBe("ok");
  });
});
