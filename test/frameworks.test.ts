import { chmod, readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, renderPage } from "./support/browser.js";
import { FAKE_API_KEY, filesContaining, listFiles } from "./support/fixture-project.js";
import { type FrameworkServer, frameworkEnv, frameworkProject, freePort, runNode22, startServer } from "./support/frameworks.js";

// Each framework's example, made the way its docs make a project and with the plugin added the
// way they add a Vite or webpack plugin, is built once with the framework's current release
// (under Node 22, which they need), served by the framework's own server and opened in Chromium.
// The store and lock are at the project root, where `imagegen check` finds every image clean.

let emulator: Emulator;
let browser: Browser;

beforeAll(async () => {
  [emulator, browser] = await Promise.all([startEmulator(), launchChromium()]);
});
afterAll(async () => {
  await Promise.all([emulator?.close(), browser?.close()]);
});

/** The first run installs each framework (and Node 22): minutes on a fresh machine. */
const INSTALL_TIMEOUT = 600_000;

const IMAGE_FILE = /[a-z0-9-]+-\d+\.[0-9a-f]{10}\.(avif|webp|jpg|png)$/;


/** Runs the framework's own CLI (`node <bin> …`) in the project, against the emulator. */
async function frameworkCli(project: string, bin: string, args: string[], extraEnv: Record<string, string> = {}) {
  const before = emulator.requests.length;
  const result = await runNode22([path.join(project, "node_modules", bin), ...args], project, await frameworkEnv(emulator.url, extraEnv));
  return { ...result, requests: emulator.requests.length - before };
}

/** `imagegen check` at the project root, as a user runs it after the build. */
async function imagegenCheck(project: string) {
  const cli = path.join(project, "node_modules", "unplugin-imagegen", "dist", "cli.mjs");
  return runNode22([cli, "check"], project, await frameworkEnv(emulator.url));
}

/** The emitted images under `outDir` of the project, relative, with `/`. */
async function imagesIn(project: string, outDir: string): Promise<string[]> {
  return (await listFiles(path.join(project, outDir))).map((file) => file.split(path.sep).join("/")).filter((file) => IMAGE_FILE.test(file));
}

/**
 * Starts the framework's server (`args` for a free port) in the project, opens the pages in
 * Chromium ({@link expectImagesShow}) and stops it; resolves with the image paths seen.
 */
async function serveAndShow(
  project: string,
  args: (port: number) => string[],
  pathnames: string[],
  urlPrefix: RegExp,
  basePath?: string,
): Promise<string[]> {
  const port = await freePort();
  const server = await startServer(args(port), project, await frameworkEnv(emulator.url), port, basePath);
  try {
    return await expectImagesShow(server, pathnames, urlPrefix);
  } finally {
    await server.close();
  }
}

/** Opens every page in Chromium: each `<img>` decodes and no request fails. */
async function expectImagesShow(server: FrameworkServer, pathnames: string[], urlPrefix: RegExp): Promise<string[]> {
  const seen: string[] = [];
  for (const pathname of pathnames) {
    const page = await renderPage(browser, new URL(pathname, server.url).href);
    expect(page.failures, `${pathname}\n${server.output()}`).toEqual([]);
    expect(page.images.length, pathname).toBeGreaterThan(0);
    for (const image of page.images) {
      expect(image.complete && image.naturalWidth > 0, `${pathname}: ${image.id} decoded (${image.currentSrc})`).toBe(true);
      const { pathname: imagePath } = new URL(image.currentSrc);
      expect(imagePath, image.id).toMatch(urlPrefix);
      seen.push(imagePath);
    }
  }
  return seen;
}

/** The store and lock at the project root, none in a source folder, and the key nowhere. */
async function expectProjectState(project: string, outDir: string) {
  const files: string[] = [];
  for (const entry of await readdir(project)) {
    if (entry === "node_modules") continue;
    const stats = await stat(path.join(project, entry));
    files.push(...(stats.isDirectory() ? (await listFiles(path.join(project, entry))).map((file) => path.join(entry, file)) : [entry]));
  }
  const stores = files.filter((file) => /(^|\/)(\.imagegen\/|imagegen\.lock\.json$)/.test(file.split(path.sep).join("/")));
  expect(stores.length).toBeGreaterThan(0);
  for (const file of stores) expect(file.split(path.sep).join("/")).toMatch(/^(\.imagegen\/|imagegen\.lock\.json$)/);
  for (const dir of [outDir, ".imagegen"]) expect(await filesContaining(path.join(project, dir), FAKE_API_KEY)).toEqual([]);
  const check = await imagegenCheck(project);
  expect(check.output).not.toMatch(/Not clean/);
  expect(check.code, check.output).toBe(0);
}

describe("SvelteKit (adapter-static)", () => {
  it("builds, puts the images beside Kit's immutable assets, and vite preview serves every one", async () => {
    const project = await frameworkProject("sveltekit");
    const build = await frameworkCli(project, "vite/bin/vite.js", ["build"]);
    expect(build.code, build.output).toBe(0);
    expect(build.requests).toBe(3);

    const images = await imagesIn(project, "build");
    expect(images.length).toBe(10);
    for (const file of images) expect(file).toMatch(/^_app\/immutable\/assets\//);
    await expectProjectState(project, "build");

    const vitePreview = (port: number) => [path.join(project, "node_modules", "vite/bin/vite.js"), "preview", "--port", String(port), "--strictPort", "--host", "127.0.0.1"];
    const seen = await serveAndShow(project, vitePreview, ["/sub/"], /^\/sub\/_app\/immutable\/assets\//, "/sub/");
    expect(new Set(seen).size).toBe(3);
  }, INSTALL_TIMEOUT);
});

describe("Astro (@astrojs/node, a prerendered page)", () => {
  it("builds, and the node adapter's server serves every image of the rendered and the prerendered page", async () => {
    const project = await frameworkProject("astro");
    const build = await frameworkCli(project, "astro/bin/astro.mjs", ["build"]);
    expect(build.code, build.output).toBe(0);
    expect(build.requests).toBe(3);

    const images = await imagesIn(project, "dist");
    // Beside Astro's own hashed assets, in the client folder only; the server build names them alike.
    expect(images.length).toBe(10);
    for (const file of images) expect(file).toMatch(/^client\/_astro\//);
    await expectProjectState(project, "dist");

    const seen = await serveAndShow(project, () => ["dist/server/entry.mjs"], ["/", "/about"], /^\/_astro\//);
    // The hero, the harbour's AVIF and the keeper's house; /about's plain <img> takes the harbour's WebP.
    expect(new Set(seen).size).toBe(4);
  }, INSTALL_TIMEOUT);
});

describe("Nuxt (modules: [\"unplugin-imagegen/nuxt\"], a prerendered page)", () => {
  it("builds with the config at the project root, and Nuxt's server serves every image", async () => {
    const project = await frameworkProject("nuxt");
    const build = await frameworkCli(project, "nuxt/bin/nuxt.mjs", ["build"]);
    expect(build.code, build.output).toBe(0);
    expect(build.requests).toBe(3);

    const images = await imagesIn(project, ".output");
    // imagegen.config.ts at the root asks for AVIF and WebP: the build read it.
    expect(images.some((file) => file.endsWith(".avif"))).toBe(true);
    for (const file of images) expect(file).toMatch(/^public\/_nuxt\//);
    await expectProjectState(project, ".output");

    await serveAndShow(project, () => [".output/server/index.mjs"], ["/", "/about"], /^\/_nuxt\//);
  }, INSTALL_TIMEOUT);
});

/** `next start` of the project, on a port. */
const nextStart = (project: string) => (port: number) => [path.join(project, "node_modules", "next/dist/bin/next"), "start", "-p", String(port), "-H", "127.0.0.1"];

/**
 * Runs `work` while the project's node_modules (and its .cache) cannot be written, as in a
 * read-only container, and without the derived cache a build left there.
 */
async function withReadOnlyNodeModules<T>(project: string, work: () => Promise<T>): Promise<T> {
  const folders = [path.join(project, "node_modules"), path.join(project, "node_modules", ".cache")];
  await rm(path.join(folders[1]!, "imagegen"), { recursive: true, force: true });
  const modes = await Promise.all(folders.map((folder) => stat(folder).then((s) => s.mode, () => undefined)));
  await Promise.all(folders.map((folder, i) => modes[i] !== undefined && chmod(folder, modes[i]! & ~0o222)));
  try {
    return await work();
  } finally {
    await Promise.all(folders.map((folder, i) => modes[i] !== undefined && chmod(folder, modes[i]!)));
  }
}

const NEXT_PROMPTS = 4;

describe("Next (withImagegen, App Router)", () => {
  it("builds with plain next build (Turbopack): gen: imports and manifests in a server and a client component, served by next start from a read-only node_modules", async () => {
    const project = await frameworkProject("next");
    const build = await frameworkCli(project, "next/dist/bin/next", ["build"]);
    expect(build.code, build.output).toBe(0);
    expect(build.output).toMatch(/Next\.js [\d.]+ \(Turbopack\)/);
    expect(build.requests).toBe(NEXT_PROMPTS);
    // Next hashed the variants itself; the API key went nowhere (required-server-files.json holds the loaders' options).
    expect((await readdir(path.join(project, ".next", "static", "media"))).filter((file) => /^imagegen\./.test(file)).length).toBe(11);
    await expectProjectState(project, ".next");

    const seen = await withReadOnlyNodeModules(project, async () => {
      const port = await freePort();
      const server = await startServer(nextStart(project)(port), project, await frameworkEnv(emulator.url), port, "/", { unprivileged: true });
      try {
        return await expectImagesShow(server, ["/"], /^\/_next\/static\/media\/imagegen\.[\w-]+\.(avif|webp|jpg)$/);
      } finally {
        await server.close();
      }
    });
    // The hero, the harbour's AVIF, the keeper's house and the door (the client component's gen: import).
    expect(new Set(seen).size).toBe(4);
  }, INSTALL_TIMEOUT);

  it("builds with next build --webpack into .next/static/media, and next start serves every image", async () => {
    const project = await frameworkProject("next");
    const build = await frameworkCli(project, "next/dist/bin/next", ["build", "--webpack"]);
    expect(build.code, build.output).toBe(0);
    expect(build.requests).toBe(NEXT_PROMPTS);

    const images = await imagesIn(project, ".next");
    // The server compilations write into the client's folder: every image once, under static/media.
    expect(images.length).toBe(11);
    for (const file of images) expect(file).toMatch(/^static\/media\//);
    await expectProjectState(project, ".next");

    const seen = await serveAndShow(project, nextStart(project), ["/"], /^\/_next\/static\/media\//);
    expect(new Set(seen).size).toBe(4);
  }, INSTALL_TIMEOUT);

  it("fails in one line naming withImagegen when unplugin-imagegen/webpack is pushed in next.config's webpack()", async () => {
    const project = await frameworkProject("next");
    await writeFile(
      path.join(project, "next.config.mjs"),
      [
        'import imagegen from "unplugin-imagegen/webpack";',
        "export default {",
        "  webpack(config) {",
        "    config.plugins.push(imagegen());",
        "    return config;",
        "  },",
        "};",
        "",
      ].join("\n"),
    );
    const build = await frameworkCli(project, "next/dist/bin/next", ["build", "--webpack"]);
    expect(build.code).not.toBe(0);
    const lines = build.output.split("\n").filter((line) => line.includes("withImagegen"));
    expect(lines[0]).toMatch(/unplugin-imagegen\/webpack .*Next.*withImagegen/);
    expect(build.requests).toBe(0);
  }, INSTALL_TIMEOUT);
});
