// Every example and fixture, built for real: the keys the build used (what it locked) are exactly
// the keys `imagegen list --json` finds, so that `imagegen check` sees every image the build sees.
// The framework examples (SvelteKit, Astro, Nuxt, Next) are built under Node 22 by
// frameworks.test.ts, which runs `imagegen check` on each right after its build: clean there
// means the same (no key locked that the CLI does not find, none found that is not locked).
import { execFile } from "node:child_process";
import { cp, readFile, readdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFixture } from "./support/fixture-project.js";
import { cliEnv, runCli } from "./support/run-cli.js";

const run = promisify(execFile);
const testDir = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.join(testDir, "support", "bundle.mjs");

/** A Vite config for the fixtures that have none: index.html and the plugin, as a user writes it. */
const VITE_CONFIG = `import imagegen from "unplugin-imagegen/vite";\nexport default { root: import.meta.dirname, logLevel: "warn", plugins: [imagegen()] };\n`;

interface Project {
  name: string;
  /** A folder of examples/, else a fixture. */
  example?: boolean;
  bundler: "vite" | "rollup" | "webpack" | "esbuild";
  /** Files to write into the copy before the build (a config the fixture's own tests pass inline). */
  files?: Record<string, string>;
}

const PROJECTS: Project[] = [
  { name: "vite", example: true, bundler: "vite" },
  { name: "rollup", example: true, bundler: "rollup" },
  { name: "webpack", example: true, bundler: "webpack" },
  { name: "bundler-site", bundler: "webpack" },
  { name: "cli-project", bundler: "vite", files: { "vite.config.mjs": VITE_CONFIG } },
  { name: "reliability", bundler: "vite", files: { "vite.config.mjs": VITE_CONFIG } },
  { name: "root-layout", bundler: "vite", files: { "vite.config.mjs": VITE_CONFIG } },
  { name: "vite-basic", bundler: "vite", files: { "vite.config.mjs": VITE_CONFIG } },
  { name: "vite-edits", bundler: "vite", files: { "vite.config.mjs": VITE_CONFIG } },
  { name: "vite-ssr", bundler: "vite", files: { "vite.config.mjs": VITE_CONFIG } },
  {
    name: "typescript",
    bundler: "esbuild",
    // Every module that uses an image (manifest-misspelt.ts is the type error its own test wants).
    files: {
      "esbuild.config.mjs": `import imagegen from "unplugin-imagegen/esbuild";\nexport default { absWorkingDir: import.meta.dirname, entryPoints: ["src/gen-imports.ts", "src/manifest-named.ts", "src/manifest-default.ts"], bundle: true, format: "esm", outdir: "dist", plugins: [imagegen()] };\n`,
    },
  },
];

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator?.close());

/** A copy of an example without what its own runs leave (dependencies, output, store, lock). */
async function copyExample(name: string): Promise<string> {
  const from = path.join(testDir, "..", "examples", name);
  const target = path.join(testDir, ".tmp", `example-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const skipped = new Set(["node_modules", "dist", ".imagegen", ".imagegen-emulated", "imagegen.lock.json"]);
  await cp(from, target, { recursive: true, filter: (source) => !skipped.has(path.basename(source)) });
  // bundle.mjs reads `<bundler>.config.mjs`; the Vite example's config is TypeScript-free JavaScript.
  const names = await readdir(target);
  if (names.includes("vite.config.ts")) await rename(path.join(target, "vite.config.ts"), path.join(target, "vite.config.mjs"));
  return target;
}

describe("the keys a build uses are the keys imagegen list finds", () => {
  it.each(PROJECTS.map((project) => [`${project.example ? "examples" : "fixtures"}/${project.name}`, project] as const))("%s", async (_, project) => {
    const root = project.example ? await copyExample(project.name) : await copyFixture(project.name);
    for (const [file, text] of Object.entries(project.files ?? {})) await writeFile(path.join(root, file), text);

    const env = cliEnv({ cwd: root, apiUrl: emulator.url, env: { CI: undefined } });
    const built = await run(process.execPath, [BUNDLE, project.bundler, root], { cwd: root, env, maxBuffer: 16 * 1024 * 1024 }).catch(
      (error: { stdout?: string; stderr?: string; message: string }) => ({ stdout: error.stdout ?? "", stderr: `${error.stderr ?? ""}\n${error.message}` }),
    );
    expect(built.stdout, built.stderr).toContain('bundle-result {"ok":true');
    // No warning that the CLI would miss an image: the build and the CLI agree by construction.
    expect(`${built.stdout}${built.stderr}`).not.toMatch(/not among the files the CLI reads|changes the key of/);

    const locked = Object.keys(JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8")).images).sort();
    const list = await runCli(["list", "--json"], { cwd: root, apiUrl: emulator.url });
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout) as { images: { key: string }[]; errors: string[] };
    expect(listed.errors).toEqual([]);
    expect(locked.length).toBeGreaterThan(0);
    expect(listed.images.map((image) => image.key).sort()).toEqual(locked);
  });
});
