// SPEC §14, docs/cost.md: the Engine holds each paid generation to maxCost as it starts, for the
// images no scan saw beforehand: it reserves the estimate, then settles at the price the provider reports.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveOptions } from "../src/project/config.js";
import { Engine } from "../src/engine.js";
import type { ImagegenOptions } from "../src/project/options.js";
import { parseGenId } from "../src/spec/parse-gen-id.js";
import { type Provider, ProviderError } from "../src/generate/provider.js";
import { resolveSpec } from "../src/spec/resolve-spec.js";
import { DEFAULT_MODEL } from "../src/spec/spec.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "imagegen-cost-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A provider that says what each image cost, as a gateway does; `charge` fails an attempt after the API took it. */
function billingProvider(cost: number, delayMs: number, charge: (prompt: string) => boolean = () => false) {
  const prompts: string[] = [];
  const provider: Provider = {
    id: "billing",
    async generate(request) {
      prompts.push(request.prompt);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (charge(request.prompt)) throw new ProviderError("the answer was cut", { retryable: true, mayHaveBeenCharged: true });
      const bytes = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#38a" } }).png().toBuffer();
      return { bytes, cost: { amount: cost, currency: "USD" } };
    },
  };
  return { provider, prompts };
}

const quiet = { info() {}, warn() {} };

async function engineWith(options: ImagegenOptions) {
  return new Engine(await resolveOptions({ root, configFile: false, logger: quiet, attempts: 3, retryDelayMs: 1, ...options }, {}));
}

function spec(engine: Engine, id: string) {
  return resolveSpec(parseGenId(id, join(root, "src/main.ts")), { ...engine.options, source: { file: join(root, "src/main.ts"), id } });
}

describe("maxCost in the Engine", () => {
  const prices = { [DEFAULT_MODEL]: 1 };

  it("reserves each estimate before its request: generations in flight at once never add up past maxCost", async () => {
    const billing = billingProvider(0.5, 30);
    const engine = await engineWith({ provider: billing.provider, prices, maxCost: 2 });
    const results = await Promise.allSettled(["a", "b", "c"].map((prompt) => engine.resolveOriginal(spec(engine, `gen:${prompt}`))));
    expect(billing.prompts).toHaveLength(2);
    expect(results.filter((result) => result.status === "rejected").map((result) => (result as PromiseRejectedResult).reason.message)).toEqual([
      expect.stringMatching(/^Not generating "c" \(.*\): it would cost \$1\.00 and this run has spent or reserved \$2\.00 of maxCost \$2\.00\.$/),
    ]);
    // Each settled at the price the provider reported, not at its estimate.
    expect(engine.spending).toMatchObject({ started: 2, charged: 2, made: 2, spent: { amount: 1, priced: 2, unknown: 0 } });
  });

  it("settles at the real price, which frees what the estimate held for the next generation", async () => {
    const billing = billingProvider(0.5, 0);
    const engine = await engineWith({ provider: billing.provider, prices, maxCost: 2 });
    const originals = [];
    for (const prompt of ["a", "b", "c"]) originals.push(await engine.resolveOriginal(spec(engine, `gen:${prompt}`)));
    expect(billing.prompts).toEqual(["a", "b", "c"]);
    expect(engine.spending.spent.amount).toBe(1.5);
    const meta = await engine.store.readMeta(originals[0]!.key, originals[0]!.sha256);
    expect(meta?.price).toEqual({ amount: 0.5, currency: "USD", source: "reported" });
  });

  it("counts a failed attempt that may have been charged at its estimate, and a cache hit at nothing", async () => {
    const billing = billingProvider(0.5, 0, (prompt) => prompt === "cut");
    const engine = await engineWith({ provider: billing.provider, prices, maxCost: 10 });
    await expect(engine.resolveOriginal(spec(engine, "gen:cut"))).rejects.toThrow(/the answer was cut/);
    // Not retried: a second attempt could be a second charge.
    expect(billing.prompts).toEqual(["cut"]);
    await engine.resolveOriginal(spec(engine, "gen:kept"));
    await engine.resolveOriginal(spec(engine, "gen:kept"));
    expect(billing.prompts).toEqual(["cut", "kept"]);
    expect(engine.spending).toMatchObject({ started: 2, charged: 2, made: 1, spent: { amount: 1.5, priced: 2, unknown: 0 } });
    expect(engine.stats.requests).toBe(2);
  });
});
