import { cp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { Browser } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, renderPage } from "./support/browser.js";
import { FAKE_API_KEY, filesContaining, listFiles } from "./support/fixture-project.js";
import { EXAMPLES_DIR, FIXTURES_DIR, bundle, copyIntoPackedProject, packedProject } from "./support/packed-project.js";
import { serveStatic } from "./support/static-server.js";

// Every bundler entry builds the same page (test/fixtures/bundler-site, one config file per
// bundler) from the packages as a user installs them, and the page works in Chromium.

const BUNDLERS = ["vite", "rollup", "rolldown", "webpack", "rspack", "esbuild"] as const;

/** The fixture's images: `<file name stem> <format> <width>x<height>`. */
const FIXTURE_IMAGES = [
  "a-fishing-harbour-at-blue-hour-200 avif 200x200",
  "a-fishing-harbour-at-blue-hour-200 webp 200x200",
  "a-lighthouse-at-dawn-quoted-with-160 avif 160x160",
  "a-lighthouse-at-dawn-quoted-with-160 webp 160x160",
  "a-lighthouse-at-dawn-quoted-with-320 avif 320x320",
  "a-lighthouse-at-dawn-quoted-with-320 webp 320x320",
  "a-red-fox-1-240 avif 240x180",
  "a-red-fox-1-240 jpeg 240x180",
  "five-people-around-a-whiteboard-200 avif 200x133",
  "five-people-around-a-whiteboard-200 webp 200x133",
];

/**
 * Rollup tree-shakes the properties of the hero's image object that the page never reads: only
 * its `src` (the largest WebP) is left, and so only that file of the hero is written.
 */
const TREE_SHAKEN: Record<string, RegExp> = { rollup: /^a-lighthouse-at-dawn-quoted-with-(160 |320 avif)/ };
/** Bundlers that write only the images the final code references (emitted after tree-shaking). */
const PRUNING = new Set(["vite", "rollup", "rolldown"]);

let packed: string;
let emulator: Emulator;
let browser: Browser;
const projects: string[] = [];

beforeAll(async () => {
  [packed, emulator, browser] = await Promise.all([packedProject(), startEmulator(), launchChromium()]);
}, 180_000);
afterAll(async () => {
  await Promise.all([emulator?.close(), browser?.close()]);
  await Promise.all(projects.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Every image in a build's output, read back with sharp. */
async function describeImages(outDir: string): Promise<{ file: string; described: string }[]> {
  const files = (await listFiles(outDir)).filter((file) => /\.(avif|webp|jpg|png)$/.test(file));
  return Promise.all(
    files.map(async (file) => {
      const { format, compression, width, height } = await sharp(path.join(outDir, file)).metadata();
      // sharp names AVIF by its container, HEIF; the codec tells them apart.
      const shown = compression === "av1" ? "avif" : format;
      const stem = path.basename(file).replace(/\.[0-9a-f]{10}\.\w+$/, "");
      return { file: file.split(path.sep).join("/"), described: `${stem} ${shown} ${width}x${height}` };
    }),
  );
}

async function build(bundler: string, project: string) {
  const before = emulator.requests.length;
  const result = await bundle(packed, bundler, project, emulator.url);
  expect(result.error, result.stderr).toBeUndefined();
  expect(result.ok).toBe(true);
  return { ...result, requests: emulator.requests.length - before };
}

async function builtScripts(outDir: string): Promise<string> {
  const scripts = (await listFiles(outDir)).filter((file) => file.endsWith(".js"));
  return (await Promise.all(scripts.map((file) => readFile(path.join(outDir, file), "utf8")))).join("\n");
}

/** File names each bundler emitted, to check that they are the same everywhere. */
const emittedBy = new Map<string, string[]>();

describe.each(BUNDLERS)("%s, from the packed packages", (bundler) => {
  let project: string;
  let outDir: string;

  it("emits content-hashed images of the right sizes and formats, points the bundle at them, and pays once", async () => {
    project = await copyIntoPackedProject(packed, path.join(FIXTURES_DIR, "bundler-site"), bundler);
    projects.push(project);

    // Each bundler's project pays for its own originals: with the emulator's takes started again,
    // the same request draws the same first image in every one, so their file names can be compared.
    emulator.reset();
    const cold = await build(bundler, project);
    outDir = cold.outDir!;
    // Four distinct originals: the hero, the card and the two manifest images.
    expect(cold.requests).toBe(4);

    const images = await describeImages(outDir);
    const shaken = TREE_SHAKEN[bundler];
    expect(images.map((image) => image.described).sort()).toEqual(FIXTURE_IMAGES.filter((image) => !shaken?.test(image)));
    for (const { file } of images) expect(file).toMatch(/^assets\/[a-z0-9-]+-\d+\.[0-9a-f]{10}\.(avif|webp|jpg)$/);

    // The bundle names the images it uses (a bundler may drop the exports nothing reads) and
    // keeps nothing of the plugin's own syntax.
    const code = await builtScripts(outDir);
    const used = images.filter(({ file }) => /a-lighthouse-at-dawn-quoted-with-320\.\w+\.webp|a-red-fox/.test(file));
    expect(used).toHaveLength(3);
    for (const { file } of used) expect(code).toContain(file);
    if (PRUNING.has(bundler)) for (const { file } of images) expect(code, "every image written is referenced").toContain(file);
    expect(code).not.toMatch(/["'`]gen:|ROLL(UP|DOWN)_FILE_URL|__VITE_ASSET__/);

    const names = images.map((image) => image.file).sort();
    emittedBy.set(bundler, names);
    // The same image has the same file name everywhere (a bundler may write fewer of them).
    for (const [other, otherNames] of emittedBy) {
      const common = names.filter((name) => otherNames.includes(name));
      expect(common.length, `${bundler} vs ${other}`).toBe(Math.min(names.length, otherNames.length));
    }

    // A second build is served from the store and the derived cache: no request, the same files.
    const warm = await build(bundler, project);
    expect(warm.requests).toBe(0);
    expect((await describeImages(outDir)).map((image) => image.file).sort()).toEqual(names);

    for (const dir of [outDir, path.join(project, ".imagegen")]) expect(await filesContaining(dir, FAKE_API_KEY)).toEqual([]);
  });

  it("shows every image in Chromium, and <picture> picks AVIF", async () => {
    expect(outDir, "the build above failed").toBeDefined();
    const server = await serveStatic(outDir);
    try {
      const page = await renderPage(browser, server.url);
      expect(page.failures).toEqual([]);
      expect(server.missing).toEqual([]);
      expect(page.images.map((image) => image.id).sort()).toEqual(["card", "harbour", "hero", "team-photo"]);
      for (const image of page.images) {
        expect(image.complete && image.naturalWidth > 0, `${image.id} decoded (${image.currentSrc})`).toBe(true);
        // Every URL is under the public path, which is the site's root here.
        expect(new URL(image.currentSrc).pathname).toMatch(/^\/assets\/[a-z0-9-]+-\d+\.[0-9a-f]{10}\.(avif|webp|jpg)$/);
      }
      const byId = Object.fromEntries(page.images.map((image) => [image.id, image]));
      for (const id of ["card", "harbour", "team-photo"]) expect(byId[id]!.currentSrc).toMatch(/\.avif$/);
      expect(byId.hero!.currentSrc).toMatch(/a-lighthouse-at-dawn-quoted-with-320\.[0-9a-f]{10}\.webp$/);
      expect(byId.card).toMatchObject({ naturalWidth: 240, naturalHeight: 180 });

      const data = page.data as Record<string, any>;
      expect(data.card).toMatchObject({ width: 240, height: 180, format: "jpeg", alt: "東京の夜景、a red fox! #1" });
      expect(data.card.placeholder).toMatch(/^data:image\/(webp|png);base64,/);
      expect(data.teamPhoto).toEqual(data.gallery["team-photo"]);
      expect(data.gallery.harbour.srcset).toMatch(/assets\/a-fishing-harbour-at-blue-hour-200\.[0-9a-f]{10}\.webp 200w$/);
    } finally {
      await server.close();
    }
  });
});

const exampleProjects = new Map<string, string>();
/** Image file names of each example's build, to check that both examples emit the same. */
const exampleImages = new Map<string, string[]>();

// Both examples show the same site. The rollup one starts from the store, lock and derived cache
// that the webpack one made, as a CI cache would hand them over: it pays for nothing.
describe.each([
  { example: "webpack", bundler: "webpack", requests: 5 },
  { example: "rollup", bundler: "rollup", requests: 0 },
])("examples/$example, from the packed packages", ({ example, bundler, requests }) => {
  it("builds a site whose every image shows in Chromium, with AVIF in each <picture>", async () => {
    const project = await copyIntoPackedProject(packed, path.join(EXAMPLES_DIR, example), `example-${example}`);
    projects.push(project);
    const seed = exampleProjects.get("webpack");
    if (example !== "webpack") {
      expect(seed, "the webpack example's build failed").toBeDefined();
      for (const kept of [".imagegen", "imagegen.lock.json", "node_modules/.cache/imagegen"]) {
        await cp(path.join(seed!, kept), path.join(project, kept), { recursive: true });
      }
    }
    const result = await build(bundler, project);
    expect(result.requests).toBe(requests);
    exampleProjects.set(example, project);

    const outDir = path.join(project, "dist");
    const files = await listFiles(outDir);
    expect(files).toContain("index.html");
    const images = await describeImages(outDir);
    expect(images.map((image) => image.described)).toContain("a-red-fox-curled-up-in-the-snow-960 avif 960x720");
    exampleImages.set(example, images.map((image) => image.file).sort());
    // The same names; Rollup leaves out the hero's files but its src, which tree-shaking removed.
    const ownImages = exampleImages.get(example)!;
    const webpackImages = exampleImages.get("webpack")!;
    expect(webpackImages).toEqual(expect.arrayContaining(ownImages));
    const shaken = webpackImages.filter((file) => !ownImages.includes(file));
    for (const file of shaken) expect(file).toMatch(/^assets\/a-lighthouse-at-dawn-on-a-rocky-/);

    const server = await serveStatic(outDir);
    try {
      const page = await renderPage(browser, server.url);
      expect(page.failures).toEqual([]);
      expect(page.images.map((image) => image.id).sort()).toEqual(["card", "cliff-path", "harbour", "hero", "keeper-house"]);
      for (const image of page.images) {
        expect(image.complete && image.naturalWidth > 0, `${image.id} decoded (${image.currentSrc})`).toBe(true);
        expect(files).toContain(new URL(image.currentSrc).pathname.slice(1));
        if (image.id !== "hero") expect(image.currentSrc, image.id).toMatch(/\.avif$/);
      }
    } finally {
      await server.close();
    }
  });
});
