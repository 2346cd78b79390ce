import { execFile } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { Browser } from "playwright-core";
import imagegen from "unplugin-imagegen/vite";
import type { ImagegenPluginOptions } from "unplugin-imagegen";
import { type ViteDevServer, createServer } from "vite";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { launchChromium } from "./support/browser.js";
import { FAKE_API_KEY } from "./support/fixture-project.js";
import { type S3Server, startS3Server } from "./support/s3-server.js";
import { type ThrottledLink, startThrottledLink } from "./support/throttled-link.js";
import { importing, reliabilityProject, viteBuild } from "./reliability/support/project.js";

// A dev server as people keep it: open all day, an editor that saves as you type (issue 23).

const run = promisify(execFile);
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "support", "dev-session-child.mjs");
const MANIFEST_MAIN = 'import images from "./site.prompts.yaml";\ndocument.querySelector("#app").innerHTML = `<img id="hero" src="${images.hero.src}">`;\n';
const manifest = (prompt: string, extra = "") => `images:\n  hero:\n    prompt: ${prompt}\n    w: [64]\n    format: [webp]\n${extra}`;

let emulator: Emulator;
let browser: Browser;
beforeAll(async () => {
  [emulator, browser] = await Promise.all([startEmulator({ apiKey: FAKE_API_KEY }), launchChromium()]);
});
afterAll(async () => {
  await Promise.all([emulator?.close(), browser?.close()]);
});

async function devServer(root: string, options: ImagegenPluginOptions = {}): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({
    root,
    configFile: false,
    logLevel: "silent",
    server: { port: 0, host: "127.0.0.1" },
    plugins: [imagegen({ root, apiKey: FAKE_API_KEY, apiUrl: emulator.url, retryDelayMs: 5, logger: { info() {}, warn() {} }, ...options })],
  });
  await server.listen();
  return { server, url: `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}/` };
}

const prompts = (from = emulator) => from.requests.map((request) => (request.body as { promptObject: { prompt: string } }).promptObject.prompt);

describe("a long dev session", () => {
  it("pays once for a prompt typed in three saves within the delay", { timeout: 60_000 }, async () => {
    const root = await reliabilityProject(MANIFEST_MAIN, { "src/site.prompts.yaml": manifest("A fox") });
    const { server, url } = await devServer(root);
    const page = await browser.newPage();
    try {
      emulator.reset();
      await page.goto(url, { waitUntil: "load" });
      await page.waitForFunction(() => document.querySelector<HTMLImageElement>("#hero")?.currentSrc.includes("/pending/"));
      const file = path.join(root, "src", "site.prompts.yaml");
      for (const prompt of ["A red fox", "A red fox in the snow"]) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        await writeFile(file, manifest(prompt));
      }
      await page.waitForFunction(
        () => {
          const img = document.querySelector<HTMLImageElement>("#hero");
          return img !== null && img.complete && img.naturalWidth > 0 && /a-red-fox-in-the-snow-64\.[0-9a-f]{12}\.webp$/.test(img.currentSrc);
        },
        undefined,
        { timeout: 30_000 },
      );
      expect(prompts()).toEqual(["A red fox in the snow"]);
    } finally {
      await page.close();
      await server.close();
    }
  });

  it("closing the server while a paid image downloads still stores it", { timeout: 120_000 }, async () => {
    // A slow download: a photograph-weight 4K original at 4 MB/s.
    const slow = await startEmulator({ apiKey: FAKE_API_KEY, grain: true });
    const link = await startThrottledLink(slow.url, 4 * 1024 * 1024);
    const root = await reliabilityProject(MANIFEST_MAIN, { "src/site.prompts.yaml": manifest("A lighthouse in a storm\n    size: 4K") });
    try {
      const server = await createServer({
        root,
        configFile: false,
        logLevel: "silent",
        server: { port: 0, host: "127.0.0.1", ws: false },
        plugins: [imagegen({ root, apiKey: FAKE_API_KEY, apiUrl: link.url, logger: { info() {}, warn() {} }, generationDelayMs: 0 })],
      });
      await server.listen();
      const base = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
      await fetch(`${base}/src/main.js`);
      await fetch(`${base}/src/site.prompts.yaml?import`);
      // The API has answered (the image is paid for) and its download is on its way.
      await expect.poll(() => slow.downloads.length, { timeout: 30_000 }).toBe(1);
      const originals = async () => (await readdir(path.join(root, ".imagegen")).catch(() => [])).filter((name) => /^[0-9a-f]{20}\.json$/.test(name));
      expect(await originals()).toEqual([]);
      await server.close();

      // Paid once, stored once: nothing lost.
      expect(slow.requests).toHaveLength(1);
      expect(await originals()).toHaveLength(1);
      const lock = JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8"));
      expect(Object.values(lock.images).map((entry) => (entry as { prompt: string }).prompt)).toEqual(["A lighthouse in a storm"]);
    } finally {
      await link.close();
      await slow.close();
    }
  });

  it("holds no more memory after 100 prompt edits than after the first 10", { timeout: 300_000 }, async () => {
    const root = await reliabilityProject(MANIFEST_MAIN, { "src/site.prompts.yaml": manifest("A heron by the river, edit 0") });
    const { stdout } = await run(process.execPath, ["--expose-gc", CHILD, JSON.stringify({ root, apiUrl: emulator.url, apiKey: FAKE_API_KEY, edits: 100 })], {
      cwd: root,
      env: { ...process.env, IMAGEGEN_PERSISTENT: "1" },
    });
    const { growth, edits } = JSON.parse(stdout.trim().split("\n").at(-1)!) as { growth: number; edits: number };
    expect(edits).toBe(90);
    // 90 more originals (about 200 KB each) and their variants went through: none of them is held.
    console.log(`heap and buffers grew by ${(growth / 1024 / 1024).toFixed(2)} MiB over 90 edits`);
    expect(growth).toBeLessThan(8 * 1024 * 1024);
  });

  it("gives two imports of one prompt with two aspects two stand-ins", { timeout: 60_000 }, async () => {
    const root = await reliabilityProject(importing("gen:a swan?aspect=1:1&w=64&format=webp", "gen:a swan?aspect=16:9&w=64&format=webp"));
    const { server, url } = await devServer(root, { generationDelayMs: 60_000 });
    try {
      const main = await (await fetch(new URL("src/main.js", url))).text();
      const modules = await Promise.all([...main.matchAll(/from "([^"]+imagegen[^"]+)"/g)].map(async ([, id]) => (await fetch(new URL(id!, url))).text()));
      const standIns = modules.map((code) => /"(\/@imagegen\/pending\/[^"]+)"/.exec(code)![1]!);
      expect(standIns[0]).toMatch(/a-swan-64x64\./);
      expect(standIns[1]).toMatch(/a-swan-64x36\./);
    } finally {
      await server.close();
    }
  });

  it("answers a module whose blurred placeholder needs an original only the remote has without waiting for it", { timeout: 120_000 }, async () => {
    const s3: S3Server = await startS3Server();
    let link: ThrottledLink | undefined;
    const root = await reliabilityProject(importing("gen:a kestrel hovering?w=64&format=webp&placeholder=blur"));
    try {
      const env = s3.env({ IMAGEGEN_REMOTE: `${s3.remote}/blur` });
      for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
      expect((await viteBuild(root, { root, apiKey: FAKE_API_KEY, apiUrl: emulator.url })).message).toBeUndefined();
      // A machine with the lock alone, and a remote behind a slow link.
      for (const dir of [".imagegen", "node_modules/.cache"]) await rm(path.join(root, dir), { recursive: true, force: true });
      link = await startThrottledLink(s3.endpoint, 64 * 1024);
      vi.stubEnv("AWS_ENDPOINT_URL_S3", link.url);
      emulator.reset();
      const { server, url } = await devServer(root);
      try {
        const main = await (await fetch(new URL("src/main.js", url))).text();
        const id = /from "([^"]+imagegen[^"]+)"/.exec(main)![1]!;
        const code = await (await fetch(new URL(id, url))).text();
        // Answered with the real variants' URLs and no placeholder yet, before the original arrived.
        expect(code).toMatch(/\/@imagegen\/a-kestrel-hovering-64\.[0-9a-f]{12}\.webp/);
        expect(code).toContain("placeholder: undefined");
        expect(await readdir(path.join(root, ".imagegen")).catch(() => [])).toEqual([]);
        // Then the download completes in the background, and nothing was paid for.
        await expect.poll(async () => (await readdir(path.join(root, ".imagegen")).catch(() => [])).some((name) => name.endsWith(".json")), { timeout: 60_000 }).toBe(true);
        expect(emulator.requests).toHaveLength(0);
      } finally {
        await server.close();
      }
    } finally {
      vi.unstubAllEnvs();
      await link?.close();
      await s3.close();
    }
  });
});
