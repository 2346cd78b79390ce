import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type OutputParams, renderVariants } from "@imagegen/core";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { Browser, Page } from "playwright-core";
import imagegen from "unplugin-imagegen/vite";
import { type ViteDevServer, createServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser.js";
import { FAKE_API_KEY, captureLogger, copyFixture } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";

// The review page inside Vite's dev server, under `base` (SPEC §13): approving there swaps the
// image on the app's own page through HMR, without a reload.

const FOX_OUTPUT: OutputParams = { widths: [240], formats: ["webp"], quality: undefined, aspect: { width: 4, height: 3 }, fit: "contain", placeholder: "none" };

let emulator: Emulator;
let browser: Browser;
let root: string;
let server: ViteDevServer;
let origin: string;
const log = captureLogger();

beforeAll(async () => {
  emulator = await startEmulator();
  browser = await launchChromium();
  root = await copyFixture("review-project");
  // Stored before the server starts, with a second candidate of the fox waiting for a decision.
  for (const args of [["generate"], ["reroll", "fox"]]) {
    const result = await runCli(args, { cwd: root, apiUrl: emulator.url });
    expect(result.code, result.stderr).toBe(0);
  }
  server = await createServer({
    root,
    base: "/app/",
    configFile: false,
    logLevel: "silent",
    server: { port: 0, host: "127.0.0.1" },
    plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: log.logger })],
  });
  await server.listen();
  origin = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await browser?.close();
  await emulator?.close();
});

const foxSrc = (page: Page) => page.evaluate(() => document.querySelector<HTMLImageElement>("#fox img")?.currentSrc ?? "");

describe("the review page in Vite's dev server", () => {
  it("is at <base>__imagegen/, and approving a candidate there swaps the image on the app's page without a reload", async () => {
    const app = await browser.newPage();
    await app.goto(`${origin}/app/`, { waitUntil: "load" });
    await app.waitForFunction(() => [...document.images].length === 3 && [...document.images].every((img) => img.complete && img.naturalWidth > 0));
    const before = await foxSrc(app);
    expect(new URL(before).pathname).toMatch(/^\/app\/@imagegen\/a-red-fox-in-the-snow-240\.[0-9a-f]{12}\.webp$/);
    await app.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));
    expect(log.lines).toContain(`review the images at http://localhost:${new URL(origin).port}/app/__imagegen/`);

    const reviewPage = await browser.newPage();
    // Without its trailing slash, the page's folder is redirected to.
    await reviewPage.goto(`${origin}/app/__imagegen`, { waitUntil: "load" });
    expect(new URL(reviewPage.url()).pathname).toBe("/app/__imagegen/");
    await reviewPage.waitForSelector(".image-list li");
    await reviewPage.keyboard.press("j");
    expect(await reviewPage.locator("#open-title").textContent()).toBe("fox");
    const chosen = await reviewPage.$eval('#detail .candidates article[data-number="2"]', (article) => (article as HTMLElement).dataset.sha256!);
    await reviewPage.keyboard.press("2");
    await reviewPage.keyboard.press("a");
    await reviewPage.waitForFunction(() => document.querySelector("#status")?.textContent?.startsWith("Approved"));

    // The app's page swaps to the chosen candidate, through HMR.
    await app.waitForFunction((old) => {
      const img = document.querySelector<HTMLImageElement>("#fox img");
      return img !== null && img.currentSrc !== old && img.complete && img.naturalWidth > 0;
    }, before, { timeout: 30_000 });
    expect(await app.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    const after = await foxSrc(app);
    const served = Buffer.from(await (await fetch(after)).arrayBuffer());
    const [key] = Object.entries(JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8")).images as Record<string, { sha256: string; approved?: string }>).find(
      ([, entry]) => entry.sha256 === chosen,
    )!;
    const original = await readFile(path.join(root, ".imagegen", `${key}.${chosen.slice(0, 16)}.png`));
    expect(served.equals((await renderVariants(original, FOX_OUTPUT)).variants[0]!.bytes)).toBe(true);
    expect(emulator.requests).toHaveLength(3);
    await app.close();
    await reviewPage.close();
  });

  it("gives other localhost origins, which Vite's own CORS lets in, neither its page nor a change", async () => {
    // What Vite does for its own files, and would do for the page's token.
    const viteFile = await fetch(`${origin}/app/src/main.js`, { headers: { Origin: "http://localhost:5173" } });
    expect(viteFile.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    const page = await fetch(`${origin}/app/__imagegen/`, { headers: { Origin: "http://localhost:5173" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("access-control-allow-origin")).toBeNull();
    const token = /name="imagegen-token" content="([^"]+)"/.exec(await page.text())![1]!;
    const change = await fetch(`${origin}/app/__imagegen/api/undo`, {
      method: "POST",
      headers: { Origin: "http://localhost:5173", "Content-Type": "application/json", "X-Imagegen-Token": token },
      body: JSON.stringify({ key: "0".repeat(20) }),
    });
    expect(change.status).toBe(403);
    expect(change.headers.get("access-control-allow-origin")).toBeNull();
  });
});
