import { readFile, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { Browser, Page } from "playwright-core";
import sharp from "sharp";
import imagegen from "unplugin-imagegen/vite";
import { type ViteDevServer, createServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser.js";
import { FAKE_API_KEY, captureLogger, copyFixture, filesContaining, listFiles } from "./support/fixture-project.js";

// The API takes this long to answer, so that the page is seen with its stand-ins first.
const LATENCY_MS = 4000;
const PROMPTS = ["A lighthouse at dawn", "A red fox in the snow", "Five people around a whiteboard, warm light", "A fishing harbour at blue hour"];

let emulator: Emulator;
let browser: Browser;
let root: string;
let server: ViteDevServer;
let page: Page;
const log = captureLogger();

async function startServer(): Promise<string> {
  server = await createServer({
    root,
    configFile: false,
    logLevel: "silent",
    // A real HMR websocket: the page below is updated through it.
    server: { port: 0, host: "127.0.0.1" },
    plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, retryDelayMs: 50, logger: log.logger })],
  });
  await server.listen();
  return `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}/`;
}

interface ShownImage {
  id: string;
  currentSrc: string;
  naturalWidth: number;
  naturalHeight: number;
}

/** Every <img> of the page once each has loaded: which URL the browser shows, at what size. */
async function shownImages(): Promise<ShownImage[]> {
  await page.waitForFunction(() => [...document.images].every((img) => img.complete && img.naturalWidth > 0));
  return page.evaluate(() =>
    [...document.images].map((img) => ({
      id: img.closest("picture")!.id,
      currentSrc: new URL(img.currentSrc).pathname,
      naturalWidth: img.naturalWidth,
      naturalHeight: img.naturalHeight,
    })),
  );
}

const isStandIn = (image: ShownImage) => image.currentSrc.startsWith("/@imagegen/pending/");

async function waitForRealImages(): Promise<ShownImage[]> {
  await page.waitForFunction(
    () => [...document.images].every((img) => !img.currentSrc.includes("/@imagegen/pending/") && img.complete && img.naturalWidth > 0),
    undefined,
    { timeout: 30_000 },
  );
  return shownImages();
}

async function fetchImage(pathname: string) {
  const response = await fetch(new URL(pathname, page.url()));
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, type: response.headers.get("content-type"), metadata: await sharp(bytes).metadata() };
}

beforeAll(async () => {
  emulator = await startEmulator({ latencyMs: LATENCY_MS });
  browser = await launchChromium();
  root = await copyFixture("vite-dev");
  const url = await startServer();
  page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
  await page.goto(url, { waitUntil: "load" });
  // Set once: a reload of the page would lose it.
  await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));
}, 60_000);

afterAll(async () => {
  await server?.close();
  await browser?.close();
  await emulator?.close();
});

const stillTheSamePage = () => page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce === true);

describe("vite dev server (Chromium over the HMR websocket)", () => {
  it("shows stand-ins of the final size at once, then swaps in each image by HMR, one API request per prompt", async () => {
    const first = await shownImages();
    expect(first.map((image) => image.id)).toEqual(["hero", "fox", "team-photo", "harbour"]);
    // The API has not answered yet: every image is a stand-in, already at its final pixel size.
    expect(first.every(isStandIn)).toBe(true);
    expect(await page.evaluate(() => (window as any).imagegenPage)).toEqual({
      hero: { width: 640, height: 640 },
      fox: { width: 400, height: 300 },
      "team-photo": { width: 320, height: 213 },
      harbour: { width: 320, height: 320 },
    });
    const fox = first.find((image) => image.id === "fox")!;
    expect([fox.naturalWidth, fox.naturalHeight]).toEqual([400, 300]);

    const real = await waitForRealImages();
    expect(await stillTheSamePage()).toBe(true);
    expect(emulator.requests.map((r) => (r.body as any).promptObject.prompt).sort()).toEqual([...PROMPTS].sort());

    const hero = real.find((image) => image.id === "hero")!;
    expect(hero.currentSrc).toMatch(/^\/@imagegen\/a-lighthouse-at-dawn-(320|640)\.[0-9a-f]{12}\.avif$/);
    const heroFile = await fetchImage(hero.currentSrc);
    expect(heroFile.type).toBe("image/avif");
    expect(heroFile.metadata.width).toBe(hero.naturalWidth);
    const teamPhoto = await fetchImage(real.find((image) => image.id === "team-photo")!.currentSrc);
    expect([teamPhoto.type, teamPhoto.metadata.width, teamPhoto.metadata.height]).toEqual(["image/webp", 320, 213]);
    expect(log.lines.some((line) => line.includes('generating "A lighthouse at dawn" for src/main.js in the background'))).toBe(true);
  }, 60_000);

  it("encodes only the variants the browser asked for, and a restart re-encodes nothing", async () => {
    const cacheDir = path.join(root, "node_modules", ".cache", "imagegen");
    const cached = (await listFiles(cacheDir)).filter((file) => /\.(avif|webp|jpg)$/.test(file));
    // hero alone has four variants (two widths × avif, webp); the browser asked for one image per <img>.
    expect(cached).toHaveLength(4);
    const mtimes = async () => Promise.all(cached.map(async (file) => (await stat(path.join(cacheDir, file))).mtimeMs));
    const before = await mtimes();

    await server.close();
    emulator.reset();
    const url = await startServer();
    await page.goto(url, { waitUntil: "load" });
    const images = await shownImages();
    expect(images.some(isStandIn)).toBe(false);
    expect(emulator.requests).toHaveLength(0);
    expect((await listFiles(cacheDir)).filter((file) => /\.(avif|webp|jpg)$/.test(file))).toEqual(cached);
    expect(await mtimes()).toEqual(before);
    await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));
  }, 60_000);

  it("updates the page when the manifest is edited: a stand-in, then the new image, without a reload", async () => {
    emulator.reset();
    const file = path.join(root, "src", "site.prompts.yaml");
    await writeFile(file, (await readFile(file, "utf8")).replace("A fishing harbour at blue hour", "A fishing harbour at noon"));

    await page.waitForFunction(() =>
      document.querySelector<HTMLImageElement>("#harbour img")!.currentSrc.includes("/@imagegen/pending/a-fishing-harbour-at-noon-320x320."),
    );
    const real = await waitForRealImages();
    expect(real.find((image) => image.id === "harbour")!.currentSrc).toMatch(/^\/@imagegen\/a-fishing-harbour-at-noon-320\.[0-9a-f]{12}\.webp$/);
    expect(await stillTheSamePage()).toBe(true);
    expect(emulator.requests.map((r) => (r.body as any).promptObject.prompt)).toEqual(["A fishing harbour at noon"]);
  }, 60_000);

  it("shows a failed generation in the error overlay and the terminal, naming the prompt and the file", async () => {
    emulator.reset();
    emulator.injectFault({ kind: "status", status: 400, message: "The prompt was refused", match: "A broken prompt" });
    const file = path.join(root, "src", "site.prompts.yaml");
    await writeFile(file, (await readFile(file, "utf8")).replace("A fishing harbour at noon", "A broken prompt"));

    await page.waitForSelector("vite-error-overlay", { timeout: 30_000 });
    const overlay = await page.evaluate(() => document.querySelector("vite-error-overlay")!.shadowRoot!.textContent);
    expect(overlay).toContain('Could not generate "A broken prompt"');
    expect(overlay).toContain("site.prompts.yaml");
    expect(overlay).toContain("The prompt was refused");
    // The stand-in stays on the page.
    expect((await shownImages()).find((image) => image.id === "harbour")!.currentSrc).toContain("/@imagegen/pending/a-broken-prompt-320x320.");
    expect(emulator.requests).toHaveLength(1);
  }, 60_000);

  it("never writes the API key anywhere", async () => {
    expect(await filesContaining(root, FAKE_API_KEY)).toEqual([]);
    expect(log.lines.join("\n")).not.toContain(FAKE_API_KEY);
  });
});

describe("vite dev server, failures before any generation and on close", () => {
  it("shows a missing original in frozen mode in the overlay at once, naming the prompt and the importing file", async () => {
    const frozenRoot = await copyFixture("vite-dev");
    const frozen = await createServer({
      root: frozenRoot,
      configFile: false,
      logLevel: "silent",
      server: { port: 0, host: "127.0.0.1" },
      plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, frozen: true, logger: log.logger })],
    });
    await frozen.listen();
    const frozenPage = await browser.newPage();
    try {
      emulator.reset();
      await frozenPage.goto(`http://127.0.0.1:${(frozen.httpServer!.address() as AddressInfo).port}/`);
      await frozenPage.waitForSelector("vite-error-overlay", { timeout: 30_000 });
      const overlay = await frozenPage.evaluate(() => document.querySelector("vite-error-overlay")!.shadowRoot!.textContent);
      expect(overlay).toMatch(/No stored original for "(A lighthouse at dawn|A red fox in the snow|Five people around a whiteboard, warm light|A fishing harbour at blue hour)"/);
      expect(overlay).toMatch(/src[/\\](main\.js|site\.prompts\.yaml)/);
      expect(emulator.requests).toHaveLength(0);
    } finally {
      await frozenPage.close();
      await frozen.close();
    }
  }, 60_000);

  it("closing the server cancels the generation in progress and the queued ones, and stops retrying", async () => {
    const closingRoot = await copyFixture("vite-dev");
    // Its own API, where every attempt fails after the latency with a retryable error: the engine would retry.
    const api = await startEmulator({ latencyMs: LATENCY_MS, faults: [{ kind: "status", status: 503, times: 100 }] });
    const closing = await createServer({
      root: closingRoot,
      configFile: false,
      logLevel: "silent",
      server: { port: 0, host: "127.0.0.1", ws: false },
      plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: api.url, retryDelayMs: 50, concurrency: 1, logger: log.logger })],
    });
    try {
      await closing.listen();
      const base = `http://127.0.0.1:${(closing.httpServer!.address() as AddressInfo).port}`;
      const main = await (await fetch(`${base}/src/main.js`)).text();
      const ids = [...main.matchAll(/from\s+"(\/@id\/__x00__imagegen:[^"]+)"/g)].map((m) => m[1]!);
      expect(ids).toHaveLength(2);
      // The modules answer at once; with concurrency 1 the other generations wait in the queue.
      for (const id of ids) expect((await fetch(`${base}${id}`)).status).toBe(200);
      await expect.poll(() => api.requests.length, { timeout: 10_000 }).toBe(1);
      await closing.close();

      // Two latencies later: the first attempt was aborted, nothing was retried, the queued ones never started.
      await new Promise((resolve) => setTimeout(resolve, 2 * LATENCY_MS));
      expect(api.requests).toHaveLength(1);
      expect(await listFiles(path.join(closingRoot, ".imagegen")).catch(() => [])).toEqual([]);
      expect(log.lines.some((line) => /^cancelled [2-4] generation\(s\) in progress$/.test(line))).toBe(true);
    } finally {
      await closing.close();
      await api.close();
    }
  }, 60_000);
});
