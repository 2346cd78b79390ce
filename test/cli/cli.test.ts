import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import imagegen from "unplugin-imagegen/vite";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, captureLogger, copyFixture, filesContaining, listFiles } from "../support/fixture-project.js";
import { allOutput, runCli } from "../support/run-cli.js";

const PROMPTS = {
  lighthouse: "A lighthouse at dawn",
  fox: "a red fox, loose watercolor on textured paper",
  hero: "A harbour at blue hour",
  team: "Five people around a whiteboard, warm light",
};

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator?.close());

/** Prompts of the generation requests the emulator received since `from`. */
function promptsSince(from: number): string[] {
  return emulator.requests.slice(from).map((request) => (request.body as { promptObject: { prompt: string } }).promptObject.prompt);
}

const cli = (root: string, ...args: string[]) => runCli(args, { cwd: root, apiUrl: emulator.url });

async function lock(root: string): Promise<Record<string, { prompt: string; sha256: string }>> {
  return JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8")).images;
}

/** A copy of the fixture with every image generated (four originals, four requests). */
async function generatedProject(): Promise<string> {
  const root = await copyFixture("cli-project");
  const before = emulator.requests.length;
  const result = await cli(root, "generate");
  expect(result.code, result.stderr).toBe(0);
  expect(promptsSince(before).sort()).toEqual(Object.values(PROMPTS).sort());
  return root;
}

async function edit(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, "utf8");
  expect(text).toContain(from);
  await writeFile(file, text.replace(from, to));
}

describe("imagegen CLI", () => {
  it("check fails on an edited prompt; generate makes exactly that image and unlocks the old one, check passes, and a revert pays nothing", async () => {
    const root = await generatedProject();
    expect((await cli(root, "check")).code).toBe(0);
    const manifest = path.join(root, "src/site.prompts.yaml");
    const heroKey = Object.entries(await lock(root)).find(([, entry]) => entry.prompt === PROMPTS.hero)![0];
    const heroBytes = await readFile(path.join(root, ".imagegen", `${heroKey}.png`));

    await edit(manifest, PROMPTS.hero, "A harbour at golden hour");
    const failing = await cli(root, "check");
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^missing +"A harbour at golden hour" key [0-9a-f]{20} — src\/site\.prompts\.yaml:4:3 · unknown$/m);
    expect(failing.stdout).toContain("1 missing, 0 stale, 0 unlocked, 0 errors");

    const before = emulator.requests.length;
    const generate = await cli(root, "generate");
    expect(generate.code, generate.stderr).toBe(0);
    expect(promptsSince(before)).toEqual(["A harbour at golden hour"]);
    expect(generate.stdout).toMatch(/^3 cached, 1 generated, 0 failed · 1 API request · spent unknown · \d+\.\d+s$/m);
    expect(generate.stderr).toContain(`[1/1] generated "A harbour at golden hour" 1024×1024`);
    // The lock holds exactly the images in use; the old original stays in the store, found again by key.
    expect(generate.stdout).toContain("Dropped 1 unused image from imagegen.lock.json; its original stays in .imagegen/, where the same prompt finds it again.");
    expect(Object.values(await lock(root)).map((entry) => entry.prompt)).not.toContain(PROMPTS.hero);
    const passing = await cli(root, "check");
    expect(passing.code, passing.stdout).toBe(0);
    expect(passing.stdout).toContain("Clean: 4 images in use");
    expect(passing.stdout).toMatch(/^unused +"A harbour at blue hour" key [0-9a-f]{20} \(in \.imagegen\/, used nowhere; kept until `imagegen prune`\)$/m);

    // The edit reverted: the old image comes back from the store, byte for byte, with no request.
    await edit(manifest, "A harbour at golden hour", PROMPTS.hero);
    const reverted = emulator.requests.length;
    const again = await cli(root, "generate");
    expect(again.code, again.stderr).toBe(0);
    expect(emulator.requests.length).toBe(reverted);
    expect((await lock(root))[heroKey]!.sha256).toBe(createHash("sha256").update(heroBytes).digest("hex"));
    expect(Buffer.compare(await readFile(path.join(root, ".imagegen", `${heroKey}.png`)), heroBytes)).toBe(0);
    expect((await cli(root, "check")).code).toBe(0);
  });

  it("notes a deleted import as unused (check passes); prune removes a locked original only by key or with --prune-locked", async () => {
    const root = await generatedProject();
    await edit(path.join(root, "src/main.ts"), `import * as fox from "gen:a red fox?style=watercolor&aspect=4:3";\n`, "");
    await edit(path.join(root, "src/main.ts"), "fox: { ...fox }, ", "");
    const foxKey = Object.entries(await lock(root)).find(([, entry]) => entry.prompt === PROMPTS.fox)![0];
    const foxFiles = async () => (await listFiles(path.join(root, ".imagegen"))).filter((file) => file.startsWith(foxKey));

    const check = await cli(root, "check");
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`unused    "${PROMPTS.fox}" key ${foxKey} (in imagegen.lock.json and .imagegen/, used nowhere; \`imagegen generate\` drops it from the lock; the original stays)`);

    const dryRun = await cli(root, "prune", "--dry-run");
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain(`Kept "${PROMPTS.fox}" key ${foxKey}`);
    expect(dryRun.stdout).toContain("Remove them by key (`imagegen prune <key>`) or all at once with `imagegen prune --prune-locked`.");
    expect((await cli(root, "prune", "--dry-run", "--prune-locked")).stdout).toContain(`Would remove "${PROMPTS.fox}" key ${foxKey}`);

    const kept = await cli(root, "prune");
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain("Nothing was removed.");
    expect(Object.keys(await lock(root))).toContain(foxKey);
    expect(await foxFiles()).not.toEqual([]);

    const inUse = Object.keys(await lock(root)).find((key) => key !== foxKey)!;
    const refused = await cli(root, "prune", inUse);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${inUse} is in use: only entries that nothing uses can be pruned`);

    const prune = await cli(root, "prune", foxKey.slice(0, 8));
    expect(prune.code).toBe(0);
    expect(prune.stdout).toContain("Removed 1 image that nothing uses.");
    expect(Object.keys(await lock(root))).not.toContain(foxKey);
    expect(await foxFiles()).toEqual([]);
    expect((await cli(root, "check")).code).toBe(0);
  });

  it("gives machine-readable --json for check, list and generate", async () => {
    const root = await copyFixture("cli-project");
    const check = await cli(root, "check", "--json");
    expect(check.code).toBe(1);
    const report = JSON.parse(check.stdout);
    expect(report).toMatchObject({ ok: false, images: 4, stale: [], unused: [], errors: [] });
    expect(report.missing.map((m: { prompt: string }) => m.prompt)).toEqual([PROMPTS.lighthouse, PROMPTS.fox, PROMPTS.hero, PROMPTS.team]);
    expect(report.missing[0].locations).toEqual([
      { file: "src/gallery.tsx", line: 2, column: 24, import: "gen:A lighthouse at dawn?w=640" },
      { file: "src/main.ts", line: 1, column: 24, import: "gen:A lighthouse at dawn" },
    ]);

    const generate = await cli(root, "generate", "--json");
    expect(generate.code).toBe(0);
    expect(JSON.parse(generate.stdout)).toMatchObject({ ok: true, cached: 0, generated: 4, failed: 0, apiRequests: 4 });

    const list = JSON.parse((await cli(root, "list", "--json")).stdout);
    expect(list.images.map((image: { name?: string; status: string; width: number }) => [image.name, image.status, image.width])).toEqual([
      [undefined, "ok", 1024],
      [undefined, "ok", 1024],
      ["hero", "ok", 1024],
      ["team-photo", "ok", 1024],
    ]);
    expect(JSON.parse((await cli(root, "check", "--json")).stdout).ok).toBe(true);
  });

  it("prints a table with list", async () => {
    const root = await generatedProject();
    const list = await cli(root, "list");
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME \/ PROMPT +USED IN +KEY +STATUS +REVIEW +SIZE +PRICE$/);
    expect(lines.slice(1).map((line) => line.split(/ {2,}/))).toEqual([
      [`"${PROMPTS.lighthouse}"`, "src/gallery.tsx:2:24 +1", expect.stringMatching(/^[0-9a-f]{20}$/), "ok", "unreviewed", "1024×1024", "unknown"],
      [`"a red fox"`, "src/main.ts:2:22", expect.any(String), "ok", "unreviewed", "1024×1024", "unknown"],
      ["hero", "src/site.prompts.yaml:4:3", expect.any(String), "ok", "unreviewed", "1024×1024", "unknown"],
      ["team-photo", "src/site.prompts.yaml:7:3", expect.any(String), "ok", "unreviewed", "1024×1024", "unknown"],
    ]);
  });

  it("exits 2 with one line for usage and config errors", async () => {
    const root = await copyFixture("cli-project");
    const cases: [string[], RegExp][] = [
      [["bogus"], /^imagegen: unknown command "bogus"; commands: init, generate, check, list, prune, report, types/],
      [[], /^imagegen: no command given/],
      [["check", "--bogus"], /^imagegen: Unknown option `--bogus`/],
      [["generate", "--concurrency", "0"], /^imagegen: --concurrency must be a whole number of at least 1 \(got "0"\)/],
      [["generate", "--force"], /^imagegen: option `--force <name\|key>` value is missing/],
      [["generate", "--force", "nobody"], /^imagegen: --force nobody: no image in use has that manifest name or key/],
      [["check", "--config", "missing.config.ts"], /^imagegen: Could not load the imagegen config/],
      [["list", "--root", "does-not-exist"], /^imagegen: --root .*does-not-exist is not a directory/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(root, ...args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect(result.stderr.trimEnd().split("\n"), args.join(" ")).toHaveLength(1);
      expect(result.stdout).toBe("");
    }

    await writeFile(path.join(root, "imagegen.config.ts"), `export default { concurency: 2 };\n`);
    const badConfig = await cli(root, "check");
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toMatch(/^imagegen: Unknown option "concurency" in .*imagegen\.config\.ts; allowed: .*concurrency/);
    expect(badConfig.stderr).not.toMatch(/\n\s+at /);

    const help = await cli(root, "generate", "--help");
    expect(help.code).toBe(0);
    for (const flag of ["--dry-run", "--force <name|key>", "--root <dir>", "--config <file>", "--concurrency <n>", "--frozen", "--json"]) {
      expect(help.stdout).toContain(flag);
    }
  });

  it("exits 1 with the error and its location for an invalid import, and generates the rest", async () => {
    const root = await copyFixture("cli-project");
    await writeFile(path.join(root, "src/bad.ts"), `\nimport bad from "gen:a cat?size=3K";\n`);
    const check = await cli(root, "check");
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^error +Invalid gen: import "gen:a cat\?size=3K" in src\/bad\.ts:2:17: size must be one of 1K, 2K, 4K/m);

    const before = emulator.requests.length;
    const generate = await cli(root, "generate");
    expect(generate.code).toBe(1);
    expect(promptsSince(before)).toHaveLength(4);
    expect(generate.stdout).toContain("0 cached, 4 generated, 0 failed, 1 invalid import");
  });

  it("--dry-run prints the plan and spends nothing", async () => {
    const root = await copyFixture("cli-project");
    const before = emulator.requests.length;
    const result = await cli(root, "generate", "--dry-run");
    expect(result.code).toBe(0);
    expect(emulator.requests.length).toBe(before);
    expect(result.stdout).toContain("Would generate 4 images with onemin (concurrency 2):");
    // 1min.ai's credit prices are not documented: without `prices` in the config, none is known.
    expect(result.stdout).toMatch(/^ {2}\+ "A lighthouse at dawn" 1K, key [0-9a-f]{20}, src\/gallery\.tsx:2:24 \(\+1 more\) · unknown$/m);
    expect(result.stdout).toMatch(/^Estimated cost: unknown \(/m);
    expect(await listFiles(path.join(root, ".imagegen")).catch(() => [])).toEqual([]);
    expect(JSON.parse((await cli(root, "generate", "--dry-run", "--json")).stdout)).toMatchObject({ dryRun: true, apiRequests: 0 });
    expect(emulator.requests.length).toBe(before);
  });

  it("--force re-rolls exactly one image, by manifest name or by key", async () => {
    const root = await generatedProject();
    const locked = await lock(root);
    const heroKey = Object.keys(locked).find((key) => locked[key]!.prompt === PROMPTS.hero)!;
    const metas = new Map(
      await Promise.all(Object.keys(locked).map(async (key) => [key, await readFile(path.join(root, ".imagegen", `${key}.json`), "utf8")] as const)),
    );
    const heroMeta = JSON.parse(metas.get(heroKey)!);

    let before = emulator.requests.length;
    const byName = await cli(root, "generate", "--force", "hero");
    expect(byName.code, byName.stderr).toBe(0);
    expect(promptsSince(before)).toEqual([PROMPTS.hero]);
    // The lock pins the new original; the old one stays in the store, beside it, as a candidate.
    const relocked = await lock(root);
    expect(relocked[heroKey]!.sha256).not.toBe(heroMeta.sha256);
    const rerolled = `${heroKey}.${relocked[heroKey]!.sha256.slice(0, 16)}.json`;
    const meta = JSON.parse(await readFile(path.join(root, ".imagegen", rerolled), "utf8"));
    expect(meta).toMatchObject({ sha256: relocked[heroKey]!.sha256, prompt: PROMPTS.hero });
    expect(meta.recordId).not.toBe(heroMeta.recordId);
    expect(await readFile(path.join(root, ".imagegen", `${heroKey}.json`), "utf8")).toBe(metas.get(heroKey));
    for (const key of Object.keys(locked).filter((k) => k !== heroKey)) {
      expect(relocked[key]).toEqual(locked[key]);
      expect(await readFile(path.join(root, ".imagegen", `${key}.json`), "utf8")).toBe(metas.get(key));
    }
    expect((await cli(root, "check")).code).toBe(0);

    const foxKey = Object.keys(locked).find((key) => locked[key]!.prompt === PROMPTS.fox)!;
    before = emulator.requests.length;
    expect((await cli(root, "generate", "--force", foxKey)).code).toBe(0);
    expect(promptsSince(before)).toEqual([PROMPTS.fox]);
  });

  it("a failed re-roll keeps the old original", async () => {
    const root = await generatedProject();
    const locked = await lock(root);
    emulator.injectFault({ kind: "status", status: 400, message: "Bad request: prompt rejected", match: "harbour" });
    const result = await cli(root, "generate", "--force", "hero");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("prompt rejected");
    expect(await lock(root)).toEqual(locked);
    expect((await cli(root, "check")).code).toBe(0);
  });

  it("refuses before starting anything when more generations are needed than maxGenerations allows", async () => {
    const root = await copyFixture("cli-project");
    const before = emulator.requests.length;
    const flag = await cli(root, "generate", "--max-generations", "3");
    expect(flag.code).toBe(1);
    expect(flag.stdout).toContain("4 images need generating but maxGenerations is 3: nothing was generated");
    for (const prompt of [PROMPTS.lighthouse, PROMPTS.hero, PROMPTS.team]) expect(flag.stdout).toContain(`"${prompt}"`);

    await edit(path.join(root, "imagegen.config.ts"), "concurrency: 2,", "concurrency: 2, maxGenerations: 1,");
    const config = await cli(root, "generate");
    expect(config.code).toBe(1);
    expect(config.stdout).toContain("maxGenerations is 1: nothing was generated");
    expect(emulator.requests.length).toBe(before);
    expect(await listFiles(path.join(root, ".imagegen")).catch(() => [])).toEqual([]);
  });

  it("--frozen and a missing key refuse to generate, listing every missing image", async () => {
    const root = await copyFixture("cli-project");
    const before = emulator.requests.length;
    const frozen = await cli(root, "generate", "--frozen");
    expect(frozen.code).toBe(1);
    expect(frozen.stdout).toContain("4 images have no stored original and imagegen is frozen");
    expect(frozen.stdout).toContain("src/site.prompts.yaml:7:3");

    const env = await runCli(["generate"], { cwd: root, env: { IMAGEGEN_FROZEN: "1", ONEMIN_API_KEY: FAKE_API_KEY, ONEMIN_API_URL: emulator.url } });
    expect(env.code).toBe(1);

    const noKey = await runCli(["generate"], { cwd: root, env: { CI: "true" } });
    expect(noKey.code).toBe(1);
    expect(noKey.stdout).toContain("4 images need generating but ONEMIN_API_KEY is not set");
    expect(emulator.requests.length).toBe(before);
  });

  it("reports a failed generation, exits 1, and a rerun makes only that one", async () => {
    const root = await copyFixture("cli-project");
    emulator.injectFault({ kind: "status", status: 400, message: "Bad request: unsafe prompt", match: "whiteboard" });
    const failed = await cli(root, "generate");
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^0 cached, 3 generated, 1 failed · 4 API requests · /m);
    expect(failed.stderr).toMatch(/failed: Could not generate "Five people around a whiteboard, warm light" \(src\/site\.prompts\.yaml:7:3 \(image "team-photo"\)\) with onemin: .*400.*unsafe prompt/);

    const before = emulator.requests.length;
    expect((await cli(root, "generate")).code).toBe(0);
    expect(promptsSince(before)).toEqual([PROMPTS.team]);
  });

  it("a frozen build right after generate makes no API request", async () => {
    const root = await generatedProject();
    const before = emulator.requests.length;
    await build({
      root,
      configFile: false,
      logLevel: "silent",
      plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, frozen: true, logger: captureLogger().logger })],
    });
    expect(emulator.requests.length).toBe(before);
    expect((await listFiles(path.join(root, "dist"))).filter((file) => file.endsWith(".webp")).length).toBeGreaterThanOrEqual(4);
  });

  it("never shows the API key, in any output or any file", async () => {
    const root = await generatedProject();
    emulator.injectFault({ kind: "status", status: 401, message: "Invalid API key", match: "golden" });
    await edit(path.join(root, "src/site.prompts.yaml"), PROMPTS.hero, "A harbour at golden hour");
    for (const args of [["check"], ["list", "--json"], ["generate", "--json"], ["generate"], ["report"], ["types"], ["prune", "--dry-run"]]) {
      await cli(root, ...args);
    }
    expect(await filesContaining(root, FAKE_API_KEY)).toEqual([]);
    expect(allOutput.length).toBeGreaterThan(0);
    expect(allOutput.filter((output) => output.includes(FAKE_API_KEY))).toEqual([]);
  });
});
