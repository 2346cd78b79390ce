import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { rspack } from "@rspack/core";
import { RspackDevServer } from "@rspack/dev-server";
import type { Browser, Page } from "playwright-core";
import sharp from "sharp";
import imagegenRspack from "unplugin-imagegen/rspack";
import imagegenWebpack from "unplugin-imagegen/webpack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import webpack from "webpack";
import WebpackDevServer from "webpack-dev-server";
import { launchChromium } from "./support/browser.js";
import { FAKE_API_KEY, captureLogger, copyFixture, listFiles } from "./support/fixture-project.js";
import { freePort } from "./support/frameworks.js";

// webpack-dev-server (as `webpack serve` runs it: a plugin of the compiler) and rspack's dev server
// (as `rspack serve` runs it: given compiler.options.devServer) answer the first page while the API
// is still generating: stand-ins of the final size, then the images after the rebuild.

const LATENCY_MS = 6000;
const PROMPTS = 4;

let emulator: Emulator;
let browser: Browser;

beforeAll(async () => {
  [emulator, browser] = await Promise.all([startEmulator({ latencyMs: LATENCY_MS }), launchChromium()]);
});
afterAll(async () => {
  await Promise.all([emulator?.close(), browser?.close()]);
});

interface Served {
  url: string;
  close(): Promise<void>;
}

/** The fixture's site in development mode, its images from the emulator. */
function siteConfig(root: string, plugins: unknown[]) {
  return {
    mode: "development" as const,
    devtool: false as const,
    context: root,
    entry: "./src/main.js",
    output: { path: path.join(root, "dist"), filename: "main.js", publicPath: "/" },
    plugins,
  };
}

const devServerOptions = (root: string, port: number) => ({
  port,
  host: "127.0.0.1",
  static: { directory: root, watch: false },
  hot: false,
  client: { overlay: true, logging: "none" as const },
});

const log = captureLogger();
const pluginOptions = { apiKey: FAKE_API_KEY, apiUrl: "", retryDelayMs: 50, logger: log.logger };

async function serveWithWebpack(root: string): Promise<Served> {
  const port = await freePort();
  const plugins = [imagegenWebpack({ ...pluginOptions, apiUrl: emulator.url }), new WebpackDevServer(devServerOptions(root, port))];
  const compiler = webpack(siteConfig(root, plugins) as webpack.Configuration);
  const watching = compiler.watch({}, () => {});
  await waitForServer(`http://127.0.0.1:${port}/`);
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => watching.close(() => compiler.close(() => resolve()))),
  };
}

async function serveWithRspack(root: string): Promise<Served> {
  const port = await freePort();
  const compiler = rspack({ ...siteConfig(root, [imagegenRspack({ ...pluginOptions, apiUrl: emulator.url })]), devServer: devServerOptions(root, port) } as never);
  const server = new RspackDevServer(compiler.options.devServer as never, compiler);
  await server.start();
  return { url: `http://127.0.0.1:${port}/`, close: () => server.stop() };
}

async function waitForServer(url: string): Promise<void> {
  for (let tries = 0; tries < 240; tries++) {
    if (await fetch(url).then((response) => response.ok, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} never answered`);
}

interface Shown {
  id: string;
  path: string;
  width: number;
  height: number;
}

async function shownImages(page: Page): Promise<Shown[]> {
  await page.waitForFunction(() => document.images.length > 0 && [...document.images].every((img) => img.complete && img.naturalWidth > 0), undefined, { timeout: 30_000 });
  return page.evaluate(() =>
    [...document.images].map((img) => ({
      id: img.id || img.closest("picture")!.id,
      path: new URL(img.currentSrc).pathname,
      width: img.naturalWidth,
      height: img.naturalHeight,
    })),
  );
}

describe.each([
  ["webpack-dev-server", serveWithWebpack],
  ["rspack's dev server", serveWithRspack],
] as const)("%s", (_name, serve) => {
  it("answers the first page with stand-ins of the final size before the API does, then shows each image after the rebuild, one request per prompt", async () => {
    const root = await copyFixture("bundler-site");
    emulator.reset();
    const server = await serve(root);
    const page = await browser.newPage();
    try {
      await page.goto(server.url, { waitUntil: "load" });
      const first = await shownImages(page);
      // The API is still working on every prompt (the store holds no original yet): each image is a stand-in, at its final size.
      expect((await listFiles(path.join(root, ".imagegen")).catch(() => [])).filter((file) => /\.(png|jpe?g|webp)$/.test(file))).toEqual([]);
      expect(first.map((image) => image.id)).toEqual(["hero", "card", "team-photo", "harbour"]);
      for (const image of first) expect(image.path, image.id).toMatch(/^\/@imagegen\/pending\//);
      expect(first.find((image) => image.id === "card")).toMatchObject({ width: 240, height: 180 });
      expect(first.find((image) => image.id === "team-photo")).toMatchObject({ width: 200, height: 133 });

      // The rebuild after the generations reloads the page with the images, encoded when asked for.
      await page.waitForFunction(
        () => document.images.length === 4 && [...document.images].every((img) => img.complete && img.naturalWidth > 0 && !img.currentSrc.includes("/pending/")),
        undefined,
        { timeout: 60_000 },
      );
      const real = await shownImages(page);
      expect(real.find((image) => image.id === "card")).toMatchObject({ width: 240, height: 180 });
      const hero = real.find((image) => image.id === "hero")!;
      expect(hero.path).toMatch(/^\/@imagegen\/a-lighthouse-at-dawn-quoted-with-\d+\.[0-9a-f]{12}\.(avif|webp)$/);
      const bytes = Buffer.from(await (await fetch(new URL(hero.path, server.url))).arrayBuffer());
      expect((await sharp(bytes).metadata()).width).toBe(hero.width);
      const prompts = emulator.requests.map((request) => (request.body as { promptObject: { prompt: string } }).promptObject.prompt);
      expect(prompts).toHaveLength(PROMPTS);
      expect(new Set(prompts).size).toBe(PROMPTS);
    } finally {
      await page.close();
      await server.close();
    }
  }, 120_000);
});
