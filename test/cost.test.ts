// SPEC §14, docs/cost.md: a price for every original, an estimate before spending, a budget in
// money (maxCost), and what each run spent; against the emulator over real HTTP, for 1min.ai with
// a price table of the config and for AI SDK models whose answers report their token usage.
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AI_SDK, type AiSdkApi, aiSdkConfig } from "./support/ai-sdk.js";
import { FAKE_API_KEY, FAKE_GOOGLE_API_KEY, FAKE_OPENAI_API_KEY } from "./support/fixture-project.js";
import { importing, reliabilityProject, storeState, viteBuild } from "./reliability/support/project.js";
import { runCli } from "./support/run-cli.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: FAKE_API_KEY, googleApiKey: FAKE_GOOGLE_API_KEY, openaiApiKey: FAKE_OPENAI_API_KEY });
});
afterAll(() => emulator?.close());
beforeEach(() => emulator.reset());

const MODEL = "gemini-3-pro-image-preview";
/** 1min.ai's credit prices are not documented: the project sets its own. */
const PRICES = { "1K": 1.5, "2K": 2.25, "4K": 4 };
const CREDITS_CONFIG = `import { defineConfig } from "unplugin-imagegen";

export default defineConfig({ currency: "credits", prices: { ${JSON.stringify(MODEL)}: ${JSON.stringify(PRICES)} } });
`;
const MIX = ["gen:a red fox?w=64", "gen:a grey heron?size=2K&w=64", "gen:a snowy owl?size=4K&w=64"];

const cli = (root: string, ...args: string[]) => runCli(args, { cwd: root, apiUrl: emulator.url });

/** The metadata of every stored original. */
async function originals(root: string): Promise<Record<string, any>[]> {
  const dir = path.join(root, ".imagegen");
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith(".json"));
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(path.join(dir, name), "utf8"))));
}

const sum = (amounts: number[]) => Math.round(amounts.reduce((total, amount) => total + amount, 0) * 1e9) / 1e9;

describe("1min.ai with prices in the config", () => {
  it("estimates a 1K/2K/4K mix, refuses it under maxCost with 0 requests, spends the sum of the recorded prices over it, totals them in report, and spends nothing on a cache hit", async () => {
    const root = await reliabilityProject(importing(...MIX), { "imagegen.config.ts": CREDITS_CONFIG });

    const dryRun = await cli(root, "generate", "--dry-run");
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toMatch(/^ {2}\+ "a red fox" 1K, key [0-9a-f]{20}, src\/main\.js:1:20 · 1\.5 credits$/m);
    expect(dryRun.stdout).toMatch(/^ {2}\+ "a grey heron" 2K, .* · 2\.25 credits$/m);
    expect(dryRun.stdout).toMatch(/^ {2}\+ "a snowy owl" 4K, .* · 4 credits$/m);
    expect(dryRun.stdout).toMatch(/^Estimated cost: 7\.75 credits\.$/m);
    const dryJson = JSON.parse((await cli(root, "generate", "--dry-run", "--json")).stdout);
    expect(dryJson.estimate).toMatchObject({ amount: 7.75, currency: "credits", priced: 3, unknown: 0 });
    expect(dryJson.wouldGenerate.map((image: any) => [image.size, image.estimate.amount, image.estimate.source])).toEqual([
      ["1K", 1.5, "prices"],
      ["2K", 2.25, "prices"],
      ["4K", 4, "prices"],
    ]);
    const check = await cli(root, "check");
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^missing +"a snowy owl" .* · 4 credits$/m);
    expect(check.stdout).toMatch(/^Estimated cost to generate the 3: 7\.75 credits\.$/m);
    expect(JSON.parse((await cli(root, "check", "--json")).stdout)).toMatchObject({ toGenerate: 3, estimate: { amount: 7.75, currency: "credits" } });
    expect(emulator.requests).toHaveLength(0);

    const refused = await cli(root, "generate", "--max-cost", "7.5");
    expect(refused.code).toBe(1);
    expect(emulator.requests).toHaveLength(0);
    expect(refused.stdout).toContain("3 images to generate:");
    for (const prompt of ["a red fox", "a grey heron", "a snowy owl"]) expect(refused.stdout).toContain(`+ "${prompt}"`);
    expect(refused.stdout).toContain(
      "3 images need generating and would cost 7.75 credits, but maxCost is 7.5 credits: nothing was generated; raise maxCost (or --max-cost) to allow it.",
    );
    expect(await storeState(root)).toEqual({ store: [], lockfile: false });

    const generated = await cli(root, "generate", "--max-cost", "7.75");
    expect(generated.code, generated.stderr).toBe(0);
    expect(emulator.requests).toHaveLength(3);
    expect(generated.stdout).toMatch(/^0 cached, 3 generated, 0 failed · 3 API requests · spent 7\.75 credits · /m);
    const stored = await originals(root);
    expect(stored.map((meta) => [meta.size, meta.price]).sort()).toEqual([
      ["1K", { amount: 1.5, currency: "credits", source: "prices" }],
      ["2K", { amount: 2.25, currency: "credits", source: "prices" }],
      ["4K", { amount: 4, currency: "credits", source: "prices" }],
    ]);
    expect(sum(stored.map((meta) => meta.price.amount))).toBe(7.75);

    const list = await cli(root, "list");
    expect(list.stdout).toMatch(/^NAME \/ PROMPT .* PRICE$/m);
    expect(list.stdout).toMatch(/^"a snowy owl" .* 4 credits$/m);
    const listJson = JSON.parse((await cli(root, "list", "--json")).stdout);
    expect(listJson.images.map((image: any) => image.price.text).sort()).toEqual(["1.5 credits", "2.25 credits", "4 credits"]);

    // A re-roll keeps the old candidate: the report totals what is in use, and everything the store keeps.
    const reroll = await cli(root, "generate", "--force", stored.find((meta) => meta.size === "4K")!.key);
    expect(reroll.code, reroll.stderr).toBe(0);
    expect(reroll.stdout).toMatch(/^0 cached, 1 generated, 0 failed · 1 API request · spent 4 credits · /m);
    const report = await cli(root, "report");
    expect(report.stdout).toContain("The originals in use cost 7.75 credits; every candidate the store keeps, 11.75 credits (docs/cost.md).");
    expect(JSON.parse((await cli(root, "report", "--json")).stdout).cost).toMatchObject({ inUse: { amount: 7.75 }, kept: { amount: 11.75 } });
    // The review page (here its static report) shows each candidate's price.
    const page = await readFile(path.join(root, "imagegen-report", "index.html"), "utf8");
    const data = JSON.parse(/<script id="imagegen-data" type="application\/json">(.*?)<\/script>/s.exec(page)![1]!);
    expect(data.images.flatMap((image: any) => image.candidates.map((candidate: any) => candidate.price)).sort()).toEqual(["1.5 credits", "2.25 credits", "4 credits", "4 credits"]);
    // And what its re-roll dialog says 1…9 new candidates of an image would cost, before they are made.
    const owl = data.images.find((image: any) => image.prompt === "a snowy owl");
    expect([owl.rerollCost[0], owl.rerollCost[2]]).toEqual(["4 credits", "12 credits"]);
    expect(emulator.requests).toHaveLength(4);

    // Every image is stored: a cache hit costs nothing.
    const again = JSON.parse((await cli(root, "generate", "--max-cost", "0", "--json")).stdout);
    expect(again).toMatchObject({ ok: true, cached: 3, generated: 0, apiRequests: 0, spent: { amount: 0, priced: 0, unknown: 0, text: "0 credits" } });
    expect(emulator.requests).toHaveLength(4);
  });

  it("counts an answer the API may have charged as spent, and the retry that makes the image as spent again", async () => {
    const root = await reliabilityProject(importing(...MIX), { "imagegen.config.ts": CREDITS_CONFIG });
    // 200 SUCCESS, then the connection cut: 1min.ai made (and charged) the heron, whose answer never arrived.
    emulator.injectFault({ kind: "cut-answer", match: "a grey heron" });
    const first = await runCli(["generate", "--json"], { cwd: root, apiUrl: emulator.url });
    expect(first.code).toBe(1);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({ generated: 2, failed: 1, apiRequests: 3, chargedFailures: 1, spent: { amount: 7.75, currency: "credits", unknown: 0 } });
    expect(sum((await originals(root)).map((meta) => meta.price.amount))).toBe(5.5);

    const retry = await cli(root, "generate");
    expect(retry.code, retry.stderr).toBe(0);
    expect(emulator.requests).toHaveLength(4);
    expect(retry.stdout).toMatch(/^2 cached, 1 generated, 0 failed · 1 API request · spent 2\.25 credits · /m);
    // The store holds what was made (7.75); the two runs spent 10 credits, the heron twice.
    expect(sum((await originals(root)).map((meta) => meta.price.amount))).toBe(7.75);
  });

  it("says what a failed run may have been charged for in its closing line", async () => {
    const root = await reliabilityProject(importing(MIX[0]!), { "imagegen.config.ts": CREDITS_CONFIG });
    emulator.injectFault({ kind: "cut-answer" });
    const result = await cli(root, "generate");
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^0 cached, 0 generated, 1 failed · 1 API request · spent 1\.5 credits \(with 1 failed generation the API may have charged\) · /m);
  });
});

describe("an unknown price", () => {
  it("reads unknown everywhere, never 0", async () => {
    const root = await reliabilityProject(importing(...MIX.slice(0, 2)));
    const dryRun = await cli(root, "generate", "--dry-run");
    expect(dryRun.stdout).toMatch(/^ {2}\+ "a red fox" 1K, .* · unknown$/m);
    expect(dryRun.stdout).toMatch(/^Estimated cost: unknown \(give the images without a price one in prices: docs\/cost\.md\)\.$/m);
    const generated = await runCli(["generate", "--json"], { cwd: root, apiUrl: emulator.url });
    expect(JSON.parse(generated.stdout)).toMatchObject({ generated: 2, apiRequests: 2, spent: { amount: 0, priced: 0, unknown: 2, text: "unknown" } });
    expect((await originals(root)).map((meta) => meta.price)).toEqual([undefined, undefined]);
    const list = JSON.parse((await cli(root, "list", "--json")).stdout);
    expect(list.images.map((image: any) => image.price)).toEqual([
      { amount: null, currency: "USD", source: "unknown", text: "unknown" },
      { amount: null, currency: "USD", source: "unknown", text: "unknown" },
    ]);
    expect((await cli(root, "list")).stdout).toMatch(/^"a red fox" .* unknown$/m);
  });

  it("with maxCost set, fails before spending and names the model and sizes that need a price, in the CLI and in a build", async () => {
    const root = await reliabilityProject(importing(...MIX));
    const refused = await cli(root, "generate", "--max-cost", "100");
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(
      `3 images need generating and maxCost is set, but some have no known price: nothing was generated; give them one in imagegen.config.ts, prices: { "${MODEL}": { "1K": …, "2K": …, "4K": … } } (in USD; docs/cost.md).`,
    );

    const build = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, maxCost: 100 });
    expect(build.message).toMatch(/^3 images have no stored original and maxCost is set, but some have no known price, so none was generated:\n/);
    expect(build.message).toContain(`  - "a snowy owl" 4K (src/main.js:3:20 (import "${MIX[2]}")) · unknown`);
    expect(build.message).toContain(`Give them one in imagegen.config.ts: prices: { "${MODEL}": { "1K": …, "2K": …, "4K": … } }`);
    expect(emulator.requests).toHaveLength(0);
    expect(await storeState(root)).toEqual({ store: [], lockfile: false });
  });
});

describe("bad cost options", () => {
  it("exit 2 with one line naming the option, the file and what is allowed", async () => {
    const cases: [string, string][] = [
      [`prices: { "${MODEL}": { "3K": 1 } }`, `imagegen: Invalid option "prices" in imagegen.config.ts: "${MODEL}": "3K" is not a size; sizes are 1K, 2K, 4K`],
      [`prices: { "${MODEL}": -1 }`, `imagegen: Invalid option "prices" in imagegen.config.ts: "${MODEL}" must be a price (a number, 0 or more) or { 1K, 2K, 4K } prices`],
      ["maxCost: -1", `imagegen: Invalid option "maxCost" in imagegen.config.ts: must be a number, 0 or more, or Infinity (got -1)`],
    ];
    for (const [option, message] of cases) {
      const root = await reliabilityProject(importing(MIX[0]!), {
        "imagegen.config.ts": `import { defineConfig } from "unplugin-imagegen";\nexport default defineConfig({ ${option} });\n`,
      });
      const result = await cli(root, "generate");
      expect(result.code, option).toBe(2);
      expect(result.stderr.trim().split("\n")).toEqual([expect.stringContaining(message)]);
    }
    const root = await reliabilityProject(importing(MIX[0]!));
    const flag = await cli(root, "generate", "--max-cost", "ten");
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('imagegen: --max-cost must be an amount, 0 or more, such as 2.50 (got "ten")');
    expect(emulator.requests).toHaveLength(0);
  });
});

describe("maxCost in a Vite build", () => {
  const prices = { [MODEL]: PRICES };

  it("refuses a build whose estimate is over it before any request, lists the images, and ends a build within it with what it spent", async () => {
    const root = await reliabilityProject(importing(...MIX));
    const refused = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, currency: "credits", prices, maxCost: 7 });
    expect(refused.message).toBe(
      [
        "3 images have no stored original and would cost 7.75 credits, but maxCost is 7 credits, so none was generated:",
        `  - "a red fox" 1K (src/main.js:1:20 (import "${MIX[0]}")) · 1.5 credits`,
        `  - "a grey heron" 2K (src/main.js:2:20 (import "${MIX[1]}")) · 2.25 credits`,
        `  - "a snowy owl" 4K (src/main.js:3:20 (import "${MIX[2]}")) · 4 credits`,
        "Raise maxCost (in imagegen.config.ts or the plugin options) to allow them.",
      ].join("\n"),
    );
    expect(emulator.requests).toHaveLength(0);

    const built = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, currency: "credits", prices, maxCost: 7.75 });
    expect(built.error).toBeUndefined();
    expect(emulator.requests).toHaveLength(3);
    expect(built.log).toContain("3 generated · 3 API requests · spent 7.75 credits");

    // A warm build pays nothing, and says nothing about money.
    const warm = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, currency: "credits", prices, maxCost: 0 });
    expect(warm.error).toBeUndefined();
    expect(emulator.requests).toHaveLength(3);
    expect(warm.log.filter((line) => line.includes("spent"))).toEqual([]);
  });
});

/** The prompt tokens the emulator counts for a prompt, as its Google and OpenAI APIs do. */
const promptTokens = (prompt: string) => Math.max(1, Math.ceil(prompt.length / 4));

describe.each(["google", "openai"] as const)("an AI SDK model (%s) that reports its token usage", (api: AiSdkApi) => {
  it("records the price its usage makes at the model's published rates, and spends their sum", async () => {
    const prompts = ["a red fox", "a lighthouse at dawn"];
    const root = await reliabilityProject(importing(...prompts.map((prompt) => `gen:${prompt}?w=64`)), {
      "imagegen.config.ts": aiSdkConfig(api, emulator.url),
    });
    const generated = await runCli(["generate", "--json"], { cwd: root, env: { [AI_SDK[api].keyVariable]: AI_SDK[api].key } });
    expect(generated.code, generated.stderr).toBe(0);
    const report = JSON.parse(generated.stdout);
    expect(report.apiRequests).toBe(2);

    // Gemini 3 Pro Image: $2 per million prompt tokens, $12 per million text and thinking (the emulator's
    // draft image counts 258 thought tokens), $120 per million image tokens (1120 for a 1K image).
    // GPT Image 1.5: $5 per million text input tokens, $32 per million image output tokens (1056 at medium, 1024×1024).
    const expected = (prompt: string) =>
      api === "google" ? (promptTokens(prompt) * 2 + 258 * 12 + 1120 * 120) / 1e6 : (promptTokens(prompt) * 5 + 1056 * 32) / 1e6;
    const stored = await originals(root);
    const byPrompt = Object.fromEntries(stored.map((meta) => [meta.prompt, meta.price]));
    for (const prompt of prompts) {
      expect(byPrompt[prompt]).toEqual({ currency: "USD", source: "usage", amount: expect.closeTo(expected(prompt), 9) });
    }
    expect(report.spent).toMatchObject({ currency: "USD", priced: 2, unknown: 0 });
    expect(report.spent.amount).toBe(sum(stored.map((meta) => meta.price.amount)));
    expect(report.images.map((image: any) => image.price.source)).toEqual(["usage", "usage"]);
  });
});
