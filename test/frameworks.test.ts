import { chmod, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, renderPage } from "./support/browser.js";
import { FAKE_API_KEY, filesContaining, listFiles } from "./support/fixture-project.js";
import { type Framework, type FrameworkServer, frameworkEnv, frameworkProject, freePort, runNode22, startServer } from "./support/frameworks.js";

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
    // Turbopack's loaders get their options as JSON, which has no Infinity.
    await writeFile(path.join(project, "next.config.mjs"), 'import { withImagegen } from "unplugin-imagegen/next";\nexport default withImagegen({}, { maxGenerations: Infinity });\n');
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

  it("with Turbopack, checks maxGenerations once for the build, before any generation, however many loader processes ask", async () => {
    const project = await frameworkProject("next");
    await writeFile(path.join(project, "next.config.mjs"), 'import { withImagegen } from "unplugin-imagegen/next";\nexport default withImagegen({}, { maxGenerations: 1 });\n');
    const build = await frameworkCli(project, "next/dist/bin/next", ["build"]);
    expect(build.code).not.toBe(0);
    expect(build.output).toContain(`${NEXT_PROMPTS} images have no stored original but maxGenerations is 1, so none was generated`);
    expect(build.requests).toBe(0);
    // One verdict for the build, written by the first loader process and read by the others.
    expect(await readdir(path.join(project, "node_modules", ".cache", "imagegen", "next-builds")).then((files) => files.filter((file) => file.endsWith(".json")))).toHaveLength(1);
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

// Each framework's own dev server, with an API slower than the page: the page shows stand-ins of
// the final size at once, then each image by itself; a manifest edit updates the page; an API
// error reaches the terminal naming the prompt and the manifest.

interface DevServerCase {
  framework: Framework;
  /** The dev server's command line (after `node`), for a port. */
  args: (project: string, port: number) => string[];
  /** The page, and a path that answers once the server is up without building the page. */
  page: string;
  ready: string;
  manifest: string;
  prompts: number;
  /** Longer than the server takes to build the page the first time. */
  latencyMs: number;
  /**
   * Whether a background failure reliably reaches the terminal. Turbopack runs loaders in worker
   * processes that it ends and starts at will, and forwards their output only while they run a
   * loader: a generation's failure there is sometimes never printed (docs/dev-server.md).
   * @default true
   */
  reportsFailures?: boolean;
}

const bin = (project: string, file: string) => path.join(project, "node_modules", file);
const DEV_SERVERS: DevServerCase[] = [
  { framework: "sveltekit", args: (p, port) => [bin(p, "vite/bin/vite.js"), "dev", "--port", String(port), "--strictPort", "--host", "127.0.0.1"], page: "/sub/", ready: "/sub/", manifest: "src/lib/site.prompts.yaml", prompts: 3, latencyMs: 6000 },
  { framework: "astro", args: (p, port) => [bin(p, "astro/bin/astro.mjs"), "dev", "--port", String(port), "--host", "127.0.0.1"], page: "/", ready: "/", manifest: "src/site.prompts.yaml", prompts: 3, latencyMs: 6000 },
  { framework: "nuxt", args: (p, port) => [bin(p, "nuxt/bin/nuxt.mjs"), "dev", "--port", String(port), "--host", "127.0.0.1"], page: "/", ready: "/", manifest: "app/site.prompts.yaml", prompts: 3, latencyMs: 8000 },
  { framework: "next", args: (p, port) => [bin(p, "next/dist/bin/next"), "dev", "-p", String(port), "-H", "127.0.0.1"], page: "/", ready: "/favicon.ico", manifest: "app/site.prompts.yaml", prompts: NEXT_PROMPTS, latencyMs: 15000, reportsFailures: false },
];

/** A stand-in is an SVG of the prompt (Vite's dev server, Turbopack and webpack alike). */
const isStandIn = (image: RenderedImageLike) => new URL(image.currentSrc).pathname.endsWith(".svg");

interface RenderedImageLike {
  id: string;
  currentSrc: string;
  naturalWidth: number;
}

async function imagesNow(page: import("playwright-core").Page): Promise<RenderedImageLike[]> {
  await page.waitForFunction(() => document.images.length > 0 && [...document.images].every((img) => img.complete && img.naturalWidth > 0), undefined, { timeout: 30_000 });
  return page.evaluate(() =>
    [...document.images].map((img) => ({ id: img.id || img.closest("picture")?.id || "", currentSrc: img.currentSrc, naturalWidth: img.naturalWidth })),
  );
}

const HARBOUR = "A fishing harbour at blue hour, boats and warm windows";

async function expectDevServer(devCase: DevServerCase, extraArgs: string[] = []) {
  const api = await startEmulator({ latencyMs: devCase.latencyMs });
  const project = await frameworkProject(devCase.framework);
  const port = await freePort();
  const server = await startServer([...devCase.args(project, port), ...extraArgs], project, await frameworkEnv(api.url), port, devCase.page, { ready: devCase.ready });
  // A 404 while the server still sets up its routes (Astro's) is not the page.
  if (devCase.ready === devCase.page) await expect.poll(() => fetch(server.url).then((response) => response.status), { timeout: 60_000 }).toBe(200);
  const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
  const prompts = () => api.requests.map((request) => (request.body as { promptObject: { prompt: string } }).promptObject.prompt);
  try {
    await page.goto(server.url, { waitUntil: "load", timeout: 120_000 });
    const first = await imagesNow(page);
    expect(first.length, server.output()).toBeGreaterThanOrEqual(3);
    for (const image of first) expect(isStandIn(image), `${image.id}: ${image.currentSrc}\n${server.output()}`).toBe(true);
    // Already the final pixel size (the hero is 960 wide).
    expect(first.find((image) => image.id === "hero")?.naturalWidth).toBe(960);

    // The images come by themselves: HMR, a refresh of the server components, or a reload the server asks for.
    await page.waitForFunction(() => [...document.images].every((img) => img.complete && img.naturalWidth > 0 && !new URL(img.currentSrc).pathname.endsWith(".svg")), undefined, { timeout: 90_000 });
    expect(prompts()).toHaveLength(devCase.prompts);
    expect(new Set(prompts()).size).toBe(devCase.prompts);

    // A manifest edit: the harbour becomes a new image, one request for it.
    api.reset();
    const manifest = path.join(project, devCase.manifest);
    await writeFile(manifest, (await readFile(manifest, "utf8")).replace(HARBOUR, "A fishing harbour at noon, boats and warm windows"));
    await expect.poll(() => prompts(), { timeout: 60_000 }).toEqual(["A fishing harbour at noon, boats and warm windows"]);
    const before = first.find((image) => image.id === "harbour")!.currentSrc;
    await page.waitForFunction(
      (old) => {
        const img = document.querySelector<HTMLImageElement>("#harbour img");
        return !!img && img.complete && img.naturalWidth > 0 && !img.currentSrc.endsWith(".svg") && img.currentSrc !== old;
      },
      before,
      { timeout: 90_000 },
    );

    // A failure at the API reaches the terminal, naming the prompt and the manifest.
    if (devCase.reportsFailures === false) return;
    api.reset();
    // Every attempt: Turbopack's loader processes each ask for it (one at a time, through the store's lock).
    api.injectFault({ kind: "status", status: 400, message: "The prompt was refused", match: "A broken prompt", times: 10 });
    await writeFile(manifest, (await readFile(manifest, "utf8")).replace("A fishing harbour at noon, boats and warm windows", "A broken prompt"));
    await expect.poll(() => server.output(), { timeout: 60_000 }).toMatch(/Could not generate "A broken prompt"[^\n]*site\.prompts\.yaml[^\n]*The prompt was refused/);
    expect(new Set(prompts())).toEqual(new Set(["A broken prompt"]));
  } finally {
    await page.close();
    await server.close();
    await api.close();
  }
}

describe.each(DEV_SERVERS.map((devCase) => [devCase.framework, devCase] as const))("%s dev server", (_framework, devCase) => {
  it("shows stand-ins at once, then each image by itself, one request per prompt; a manifest edit updates the page; an API error reaches the terminal", async () => {
    await expectDevServer(devCase);
  }, INSTALL_TIMEOUT);
});

describe("next dev server with --webpack", () => {
  it("shows stand-ins at once, then each image by itself, one request per prompt; a manifest edit updates the page; an API error reaches the terminal", async () => {
    // webpack's first build of the page takes longer than Turbopack's.
    const next = DEV_SERVERS.find((devCase) => devCase.framework === "next")!;
    await expectDevServer({ ...next, latencyMs: 30_000, reportsFailures: true }, ["--webpack"]);
  }, INSTALL_TIMEOUT);
});
