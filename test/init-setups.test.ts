import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, filesContaining, listFiles } from "./support/fixture-project.js";
import { type Framework, frameworkEnv, frameworkProject, runNode22 } from "./support/frameworks.js";
import { FIXTURES_DIR, buildEnv, bundle, copyIntoPackedProject, packedProject } from "./support/packed-project.js";

// `imagegen init` on a fresh project of each setup, as its own starter makes it
// (test/fixtures/init/<setup>), with the packages as a user installs them: the packed CLI wires
// it, the page then imports the sample manifest's image, and the project's own build puts that
// image in its output, referenced by the page. A second init changes nothing. The edits
// themselves, and the configs init refuses: test/cli/init.test.ts.

const STARTERS = path.join(FIXTURES_DIR, "init");
/** The sample manifest's image: two widths, AVIF and WebP (the 1K original is square), named after its prompt and width. */
const HERO_FILE = /(?:^|\/)a-lighthouse-on-a-rocky-coast-at-(480|960)\.[0-9a-f]{10}\.(avif|webp)$/;
/** Turbopack names each variant after the file it read (next-image/imagegen.<ext>) and a hash of its own. */
const TURBOPACK_FILE = /(?:^|\/)imagegen\.[\w-]+\.(avif|webp)$/;
/** The first run installs each framework (and Node 22): minutes on a fresh machine. */
const INSTALL_TIMEOUT = 600_000;
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

let emulator: Emulator;
const copies: string[] = [];
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator?.close();
  await Promise.all(copies.map((dir) => rm(dir, { recursive: true, force: true })));
});

interface Run {
  code: number | null;
  output: string;
}

function runNode(args: string[], cwd: string): Promise<Run> {
  const child = spawn(process.execPath, args, { cwd, env: buildEnv(emulator.url), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

/** The installed CLI (`npx imagegen`), from wherever the project's node_modules are. */
function cliOf(nodeModules: string): string {
  return path.join(nodeModules, "unplugin-imagegen", "dist", "cli.mjs");
}

/** Every file of the project but its packages and build output, and its bytes. */
async function projectFiles(project: string, outDir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const file of await listFiles(project)) {
    const posix = file.split(path.sep).join("/");
    if (posix.startsWith("node_modules/") || posix.startsWith(`${outDir}/`) || /^\.(svelte-kit|nuxt|astro|next)\//.test(posix)) continue;
    files[posix] = await readFile(path.join(project, file), "latin1");
  }
  return files;
}

/**
 * What the build left in `outDir`: the hero's four files (two widths, AVIF and WebP), each of the
 * pixel width its name says where it says one, each referenced by a page or script of the
 * output, and no API key anywhere.
 */
async function expectHeroBuilt(project: string, outDir: string, under: RegExp, named = HERO_FILE) {
  const dir = path.join(project, outDir);
  const files = (await listFiles(dir)).map((file) => file.split(path.sep).join("/"));
  const heroes = files.filter((file) => named.test(file));
  const shipped = await Promise.all(
    heroes.map(async (file) => `${(await sharp(path.join(dir, file)).metadata()).width} ${path.extname(file).slice(1)}`),
  );
  expect(shipped.sort()).toEqual(["480 avif", "480 webp", "960 avif", "960 webp"]);
  const code = files.filter((file) => /\.(html|js|mjs|cjs|json)$/.test(file));
  const texts = await Promise.all(code.map((file) => readFile(path.join(dir, file), "utf8")));
  for (const file of heroes) {
    expect(file).toMatch(under);
    const width = named === HERO_FILE ? Number(HERO_FILE.exec(file)![1]) : undefined;
    if (width) expect((await sharp(path.join(dir, file)).metadata()).width, file).toBe(width);
    const name = path.posix.basename(file);
    expect(texts.some((text) => text.includes(name)), `${name} is referenced by the output`).toBe(true);
  }
  expect(await filesContaining(dir, FAKE_API_KEY)).toEqual([]);
}

interface BundlerSetup {
  setup: string;
  title: string;
  /** The entry the page script is, rewritten to show the hero (what a user does after init). */
  entry: string;
  build(packed: string, project: string): Promise<Run>;
}

/** A bundler's own command line, from the packed project's packages. */
const cli = (bin: string, ...args: string[]) => (packed: string, project: string) => runNode([path.join(packed, "node_modules", bin), ...args], project);
/** webpack and Rspack through their JavaScript API (their command-line packages are not installed), as their CLI would. */
const api = (bundler: string) => async (packed: string, project: string) => {
  const result = await bundle(packed, bundler, project, emulator.url);
  return { code: result.ok ? 0 : 1, output: `${result.error ?? ""}\n${result.stderr}` };
};

const PICTURE = "`<picture><source type=\"image/avif\" srcset=\"${hero.sources.avif}\"><img src=\"${hero.src}\" srcset=\"${hero.srcset}\" width=\"${hero.width}\" height=\"${hero.height}\" alt=\"${hero.alt}\"></picture>`";

const BUNDLERS: BundlerSetup[] = [
  { setup: "vite", title: "Vite", entry: "src/main.ts", build: cli("vite/bin/vite.js", "build") },
  { setup: "webpack", title: "webpack", entry: "src/index.js", build: api("webpack") },
  { setup: "rspack", title: "Rspack", entry: "src/index.js", build: api("rspack") },
  { setup: "rollup", title: "Rollup", entry: "src/main.js", build: cli("rollup/dist/bin/rollup", "--config") },
  { setup: "rolldown", title: "Rolldown", entry: "src/main.js", build: cli("rolldown/bin/cli.mjs", "-c") },
  { setup: "esbuild", title: "esbuild", entry: "src/app.js", build: (_packed, project) => runNode(["build.mjs"], project) },
];

describe("imagegen init, then the build, on each bundler's fresh project", () => {
  let packed: string;
  beforeAll(async () => {
    packed = await packedProject();
  }, 180_000);

  it.each(BUNDLERS)("$title", async ({ setup, title, entry, build }) => {
    const project = await copyIntoPackedProject(packed, path.join(STARTERS, setup), `init-${setup}`);
    copies.push(project);
    const init = await runNode([cliOf(path.join(packed, "node_modules")), "init"], project);
    expect(init.code, init.output).toBe(0);
    expect(init.output).toContain(`Found ${title} (`);

    await writeFile(path.join(project, entry), `import { hero } from "./site.prompts.yaml";\n\ndocument.body.innerHTML = ${PICTURE};\n`);
    const before = emulator.requests.length;
    const built = await build(packed, project);
    expect(built.code, built.output).toBe(0);
    expect(emulator.requests.length - before).toBe(1);
    await expectHeroBuilt(project, "dist", /^(assets\/)?[^/]+$/);

    if (setup === "vite") {
      // The starter's `tsc` (its build script runs it first) reads the types init declared.
      const checked = await runNode([tsc, "-p", project], project);
      expect(checked.output).toBe("");
      expect(checked.code).toBe(0);
    }

    const files = await projectFiles(project, "dist");
    const again = await runNode([cliOf(path.join(packed, "node_modules")), "init"], project);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain("imagegen is set up already: nothing to change.");
    expect(await projectFiles(project, "dist")).toEqual(files);
  });
});

interface FrameworkSetup {
  name: Framework;
  title: string;
  /** The page that shows the hero, and its source. */
  page: [file: string, text: string];
  /** What the starter's install runs (its `prepare` script), if anything. */
  prepare?: [bin: string, ...args: string[]];
  /** The framework's CLI (in node_modules) and its build arguments. */
  build: [bin: string, ...args: string[]];
  outDir: string;
  /** Where the images go in the output. */
  under: RegExp;
  /** How the hero's files are named, if not after its prompt. */
  named?: RegExp;
}

const FRAMEWORKS: FrameworkSetup[] = [
  {
    name: "sveltekit",
    title: "SvelteKit",
    page: [
      "src/routes/+page.svelte",
      `<script lang="ts">\n\timport { hero } from '../lib/site.prompts.yaml';\n</script>\n\n<picture>\n\t<source type="image/avif" srcset={hero.sources.avif} />\n\t<img src={hero.src} srcset={hero.srcset} width={hero.width} height={hero.height} alt={hero.alt} />\n</picture>\n`,
    ],
    // Its tsconfig.json extends the one `svelte-kit sync` writes.
    prepare: ["@sveltejs/kit/svelte-kit.js", "sync"],
    build: ["vite/bin/vite.js", "build"],
    outDir: "build",
    under: /^_app\/immutable\/assets\//,
  },
  {
    name: "astro",
    title: "Astro",
    page: [
      "src/pages/index.astro",
      `---\nimport { hero } from "../site.prompts.yaml";\n---\n\n<html lang="en">\n\t<body>\n\t\t<picture>\n\t\t\t<source type="image/avif" srcset={hero.sources.avif} />\n\t\t\t<img src={hero.src} srcset={hero.srcset} width={hero.width} height={hero.height} alt={hero.alt} />\n\t\t</picture>\n\t</body>\n</html>\n`,
    ],
    build: ["astro/bin/astro.mjs", "build"],
    outDir: "dist",
    under: /^_astro\//,
  },
  {
    name: "nuxt",
    title: "Nuxt",
    page: [
      "app/app.vue",
      `<script setup lang="ts">\nimport { hero } from "./site.prompts.yaml";\n</script>\n\n<template>\n  <picture>\n    <source type="image/avif" :srcset="hero.sources.avif" />\n    <img :src="hero.src" :srcset="hero.srcset" :width="hero.width" :height="hero.height" :alt="hero.alt" />\n  </picture>\n</template>\n`,
    ],
    build: ["nuxt/bin/nuxt.mjs", "build"],
    outDir: ".output",
    under: /^public\/_nuxt\//,
  },
  {
    name: "next",
    title: "Next.js",
    page: [
      "app/page.js",
      `import { hero } from "./site.prompts.yaml";\n\nexport default function Home() {\n  return (\n    <picture>\n      <source type="image/avif" srcSet={hero.sources.avif} />\n      <img src={hero.src} srcSet={hero.srcset} width={hero.width} height={hero.height} alt={hero.alt} />\n    </picture>\n  );\n}\n`,
    ],
    // The starter's own `next build`: Turbopack, through which manifests work.
    build: ["next/dist/bin/next", "build"],
    outDir: ".next",
    under: /^static\/media\//,
    named: TURBOPACK_FILE,
  },
];

describe("imagegen init, then the build, on each framework's fresh project (Node 22)", () => {
  it.each(FRAMEWORKS)(
    "$title",
    async ({ name, title, page, prepare, build, outDir, under, named }) => {
      const project = await frameworkProject(name, { starter: path.join(STARTERS, name) });
      const env = await frameworkEnv(emulator.url);
      const imagegen = (...args: string[]) => runNode22([cliOf(path.join(project, "node_modules")), ...args], project, env);
      const init = await imagegen("init");
      expect(init.code, init.output).toBe(0);
      expect(init.output).toContain(`Found ${title} (`);

      await writeFile(path.join(project, page[0]), page[1]);
      const bin = ([file, ...args]: string[]) => runNode22([path.join(project, "node_modules", file!), ...args], project, env);
      if (prepare) expect((await bin(prepare)).code).toBe(0);
      const before = emulator.requests.length;
      const built = await bin(build);
      expect(built.code, built.output).toBe(0);
      expect(emulator.requests.length - before).toBe(1);
      await expectHeroBuilt(project, outDir, under, named);
      if (name === "nuxt") {
        // The module declared the client types in Nuxt's own; init touched no tsconfig.
        expect(await readFile(path.join(project, ".nuxt/nuxt.d.ts"), "utf8")).toContain('/// <reference types="unplugin-imagegen/client" />');
      }

      const files = await projectFiles(project, outDir);
      const again = await imagegen("init");
      expect(again.code, again.output).toBe(0);
      expect(again.output).toContain("imagegen is set up already: nothing to change.");
      expect(await projectFiles(project, outDir)).toEqual(files);
    },
    INSTALL_TIMEOUT,
  );
});
