import { readFile, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import sharp from "sharp";
import imagegen from "unplugin-imagegen/vite";
import { type ViteDevServer, createServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, captureLogger, copyFixture, listFiles } from "./support/fixture-project.js";

let emulator: Emulator;
let server: ViteDevServer;
let base: string;
let root: string;

beforeAll(async () => {
  emulator = await startEmulator();
  root = await copyFixture("vite-basic");
  server = await createServer({
    root,
    configFile: false,
    logLevel: "silent",
    server: { port: 0, host: "127.0.0.1", ws: false },
    plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: captureLogger().logger })],
  });
  await server.listen();
  base = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await server?.close();
  await emulator?.close();
});

/** The module URLs that a served module imports. */
function importsOf(code: string): string[] {
  return [...code.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
}

async function get(url: string) {
  const response = await fetch(new URL(url, base));
  return { status: response.status, type: response.headers.get("content-type"), body: Buffer.from(await response.arrayBuffer()) };
}

describe("vite dev server", () => {
  it("serves gen: modules and their images from memory, and 404 for an unknown image", async () => {
    const main = await get("/src/main.js");
    expect(main.status).toBe(200);
    const heroModuleUrl = importsOf(main.body.toString()).find((u) => u.includes("imagegen"))!;
    // A short hashed id: none of the prompt's dots, spaces or `?` reach the URL.
    expect(heroModuleUrl).toMatch(/^\/@id\/__x00__imagegen:[0-9a-f]{16}\.js$/);

    const heroModule = await get(heroModuleUrl);
    expect(heroModule.status).toBe(200);
    const imageUrls = [...heroModule.body.toString().matchAll(/"(\/@imagegen\/[^"]+)"/g)].map((m) => m[1]!);
    expect(imageUrls.length).toBeGreaterThanOrEqual(4);

    const avifUrl = imageUrls.find((u) => u.endsWith(".avif"))!;
    const avif = await get(avifUrl);
    expect(avif.status).toBe(200);
    expect(avif.type).toBe("image/avif");
    expect((await sharp(avif.body).metadata()).width).toBeGreaterThan(0);

    const webp = await get(imageUrls.find((u) => u.endsWith(".webp"))!);
    expect(webp.type).toBe("image/webp");

    const unknown = await get("/@imagegen/not-an-image-640.0123456789.webp");
    expect(unknown.status).toBe(404);

    // Nothing is written to dist in dev.
    expect((await listFiles(root)).some((f) => f.startsWith("dist/"))).toBe(false);
  });

  it("serves a new image after a manifest edit, generating only the changed prompt", async () => {
    // The URL the browser asks for: Vite rewrites non-JS imports to `?import`.
    const manifestUrl = importsOf((await get("/src/main.js")).body.toString()).find((u) => u.includes("prompts.yaml"))!;
    expect(manifestUrl).toMatch(/^\/src\/site\.prompts\.yaml\?import/);
    const before = (await get(manifestUrl)).body.toString();
    expect(before).toContain("export const teamPhoto");
    emulator.reset();

    const file = path.join(root, "src", "site.prompts.yaml");
    const updated = (await readFile(file, "utf8")).replace("A fishing harbour at blue hour", "A fishing harbour at noon");
    await writeFile(file, updated);
    // Let the watcher see the edit and invalidate the module.
    await expect.poll(async () => (await get(manifestUrl)).body.toString(), { timeout: 20_000 }).not.toBe(before);

    const after = (await get(manifestUrl)).body.toString();
    expect(after).toContain("a-fishing-harbour-at-noon-320");
    expect(emulator.requests.map((r) => (r.body as any).promptObject.prompt)).toEqual(["A fishing harbour at noon"]);
    const url = after.match(/"(\/@imagegen\/a-fishing-harbour-at-noon[^"]+)"/)![1]!;
    expect((await get(url)).status).toBe(200);
  });
});
