import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import imagegen from "unplugin-imagegen/vite";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, captureLogger, copyFixture, listFiles } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator?.close());

const cli = (root: string, ...args: string[]) => runCli(args, { cwd: root, apiUrl: emulator.url });

async function write(root: string, file: string, text: string) {
  await mkdir(path.dirname(path.join(root, file)), { recursive: true });
  await writeFile(path.join(root, file), text);
}

/** Every prompt of the root-layout fixture, by the file that holds it. */
const PROMPTS: Record<string, string> = {
  "main.js": "A lighthouse at dawn, seen from the root",
  "app/page.js": "a red fox in the app folder",
  "pages/index.js": "a harbour in the pages folder",
  "lib/images.js": "an owl in the lib folder",
  "lib/gallery.prompts.yaml": "A meadow in the lib manifest",
};

describe("the CLI sees every image the build sees", () => {
  it("on a project whose imports sit at the root and in app/, pages/ and lib/: generate makes them all, check agrees, a build pays nothing", async () => {
    const root = await copyFixture("root-layout");
    // Neither a dependency's file nor a gitignored one is part of the project.
    await write(root, "generated/leftover.js", `import x from "gen:an image in a gitignored folder";\nexport default x;\n`);
    await write(root, "node_modules/some-dep/index.js", `import x from "gen:an image in a dependency";\nexport default x;\n`);

    const before = emulator.requests.length;
    const generate = await cli(root, "generate");
    expect(generate.code, generate.stderr).toBe(0);
    const prompts = emulator.requests.slice(before).map((request) => (request.body as { promptObject: { prompt: string } }).promptObject.prompt);
    expect(prompts.sort()).toEqual(Object.values(PROMPTS).sort());
    const check = await cli(root, "check");
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toContain("Clean: 5 images in use");

    const log = captureLogger();
    const afterGenerate = emulator.requests.length;
    await build({
      root,
      configFile: false,
      logLevel: "silent",
      build: { modulePreload: { polyfill: false } },
      plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: log.logger, strict: true })],
    });
    expect(emulator.requests.length - afterGenerate).toBe(0);
    expect((await listFiles(path.join(root, "dist"))).filter((file) => file.endsWith(".webp"))).toHaveLength(5);
    // Every file the build read an image from is one the CLI scans: no warning.
    expect(log.lines.filter((line) => /outside|plugin option/.test(line))).toEqual([]);

    for (const [file, prompt] of Object.entries(PROMPTS)) {
      const original = await readFile(path.join(root, file), "utf8");
      await writeFile(path.join(root, file), original.replace(prompt, `${prompt}, edited`));
      const edited = await cli(root, "check");
      expect(edited.code, `${file}: ${edited.stdout}`).toBe(1);
      expect(edited.stdout).toMatch(new RegExp(`^missing +"${prompt}, edited" key [0-9a-f]{20} — ${file.replace(".", "\\.")}:\\d+:\\d+ · unknown$`, "m"));
      await writeFile(path.join(root, file), original);
    }
    expect((await cli(root, "check")).code).toBe(0);
  });

  it("reads the config file once per run", async () => {
    const root = await copyFixture("root-layout");
    // Each read of the config appends a line: the CLI must read it once, whatever the command.
    await write(
      root,
      // A .ts config is evaluated anew on every read (an .mjs one is cached by Node after the first).
      "imagegen.config.ts",
      `import { appendFileSync } from "node:fs";\nappendFileSync(new URL("./reads.log", import.meta.url), "read\\n");\nexport default { apiKey: "${FAKE_API_KEY}-from-config" };\n`,
    );
    for (const command of ["list", "check"]) {
      await writeFile(path.join(root, "reads.log"), "");
      const result = await runCli([command], { cwd: root });
      expect(`${result.stdout}${result.stderr}`).not.toContain(FAKE_API_KEY);
      expect(await readFile(path.join(root, "reads.log"), "utf8"), command).toBe("read\n");
    }
  });
});

describe("the build warns where the CLI would not see an image", () => {
  async function buildWith(root: string, options: Parameters<typeof imagegen>[0] = {}) {
    const log = captureLogger();
    await build({
      root,
      configFile: false,
      logLevel: "silent",
      build: { modulePreload: { polyfill: false } },
      plugins: [imagegen({ logger: log.logger, strict: false, ...options })],
    });
    return log.lines.filter((line) => !line.includes("ONEMIN_API_KEY"));
  }

  it("names a file outside the sources globs, or ignored, once, with the fix", async () => {
    const root = await copyFixture("root-layout");
    await write(root, "imagegen.config.ts", `export default { sources: ["app/**/*.js", "pages/**/*.js", "lib/**/*.js", "generated/**/*.js"] };\n`);
    await write(root, "generated/extra.js", `import extra from "gen:an image in a gitignored folder?w=64&format=webp";\nexport default extra;\n`);
    const main = path.join(root, "main.js");
    await writeFile(main, `import extra from "./generated/extra.js";\nimport again from "gen:A lighthouse at dawn, seen from the root?w=64&format=webp";\n${await readFile(main, "utf8")}`);

    const warnings = await buildWith(root);
    expect(warnings).toHaveLength(2);
    expect(warnings).toContain(
      'main.js imports an image but is not among the files the CLI reads (the `sources` globs "app/**/*.js", "pages/**/*.js", "lib/**/*.js", "generated/**/*.js", less node_modules, build output and what .gitignore excludes), so `imagegen generate` and `imagegen check` do not see its images. Fix: add it to `sources` in imagegen.config.ts.',
    );
    expect(warnings.find((line) => line.startsWith("generated/extra.js imports an image but is not among the files the CLI reads"))).toBeDefined();
  });

  it("names a plugin option that changes keys, once, and not one that changes only the output", async () => {
    const root = await copyFixture("root-layout");
    expect(await buildWith(root, { defaults: { quality: 50 }, styles: { ink: "ink drawing" } })).toEqual([]);

    const warnings = await buildWith(root, { defaults: { size: "2K" }, model: "gemini-3-pro-image-preview" });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^The plugin option `defaults` changes the key of "[^"]+" \([^)]+\) from what imagegen\.config\.ts \(at the project root\) alone gives, so `imagegen generate` and `imagegen check` \(which read only the config file\) see another image and would drop this one from the lock\. Fix: move `defaults` from the plugin's options into imagegen\.config\.ts \(at the project root\)\.$/,
    );
  });
});

describe("imagegen report --out", () => {
  it("refuses a non-empty folder that holds no earlier report, and on a rerun removes only what the last report wrote", async () => {
    const root = await copyFixture("root-layout");
    expect((await cli(root, "generate")).code).toBe(0);

    await write(root, "notes/todo.txt", "mine\n");
    await write(root, "notes/images/photo.webp", "mine too\n");
    const refused = await runCli(["report", "--out", "notes"], { cwd: root });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^imagegen: the report folder .*notes is not empty and holds no earlier report \(no \.imagegen-report\.json\): give a new or empty folder \(--out\)/);
    expect(await listFiles(path.join(root, "notes"))).toEqual(["images/photo.webp", "todo.txt"]);

    const first = await runCli(["report", "--out", "review"], { cwd: root });
    expect(first.code, first.stderr).toBe(0);
    const thumbnails = (await listFiles(path.join(root, "review"))).filter((file) => file.startsWith("images/"));
    expect(thumbnails).toHaveLength(5);
    await write(root, "review/images/added-by-me.txt", "keep\n");

    // One image goes out of use and its original is pruned: its thumbnail goes, nothing else.
    const main = path.join(root, "lib/images.js");
    await writeFile(main, (await readFile(main, "utf8")).replace(`import * as owl from "gen:an owl in the lib folder?w=320&format=webp";\n`, "").replace("owl: owl.src, ", ""));
    expect((await cli(root, "prune", "--prune-locked")).code).toBe(0);
    const second = await runCli(["report", "--out", "review"], { cwd: root });
    expect(second.code, second.stderr).toBe(0);
    const after = await listFiles(path.join(root, "review"));
    expect(after).toContain("images/added-by-me.txt");
    expect(after.filter((file) => file.endsWith(".webp"))).toHaveLength(4);
    expect(thumbnails.filter((file) => !after.includes(file))).toHaveLength(1);
  });
});
