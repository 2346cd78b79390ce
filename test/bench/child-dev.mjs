// One Vite dev server in its own process, as `vite` would run it, timed from the server's start to a
// page in Chromium with every image loaded; or, with `missing`, the time the server takes to answer
// `gen:` modules whose originals are missing while the API is slow.
// Usage: node child-dev.mjs '{"side":"imagegen"|"imagetools","root":"…","count":40}'
//        node child-dev.mjs '{"side":"missing","root":"…","apiUrl":"…"}'
// Prints one JSON line: { pageMs } or { moduleMs: [...] }.
import path from "node:path";
import { chromium } from "playwright-core";

const { side, root, count, apiUrl } = JSON.parse(process.argv[2]);
const quiet = { info() {}, warn: (message) => console.error(`[imagegen] ${message}`) };

const { createServer } = await import("vite");
let plugins = [];
if (side === "imagegen" || side === "missing") {
  const { default: imagegen } = await import("unplugin-imagegen/vite");
  plugins = [imagegen(side === "missing" ? { root, apiKey: "bench-fake-key", apiUrl, logger: quiet } : { root, strict: true, logger: quiet })];
} else {
  const { imagetools } = await import("vite-imagetools");
  plugins = [imagetools({ cache: { dir: path.join(root, "node_modules/.cache/imagetools") } })];
}

if (side === "missing") {
  const server = await createServer({
    root,
    configFile: false,
    logLevel: "silent",
    // No warm-up of imports: each module below is loaded by the request that is timed.
    server: { port: 0, host: "127.0.0.1", ws: false, preTransformRequests: false },
    plugins,
  });
  await server.listen();
  const base = `http://127.0.0.1:${server.httpServer.address().port}`;
  const main = await (await fetch(`${base}/src/main.js`)).text();
  const ids = [...main.matchAll(/from\s+"(\/@id\/__x00__imagegen:[^"]+)"/g)].map((m) => m[1]);
  const moduleMs = [];
  for (const id of ids) {
    const started = performance.now();
    const response = await fetch(`${base}${id}`);
    const code = await response.text();
    moduleMs.push(performance.now() - started);
    if (response.status !== 200 || !code.includes("/@imagegen/pending/")) throw new Error(`${id} did not answer with stand-ins`);
  }
  await server.close();
  process.stdout.write(`${JSON.stringify({ moduleMs })}\n`);
  process.exit(0);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const started = performance.now();
const server = await createServer({ root, configFile: false, logLevel: "silent", server: { port: 0, host: "127.0.0.1" }, plugins });
await server.listen();
const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
await page.goto(`http://127.0.0.1:${server.httpServer.address().port}/`, { timeout: 600_000 });
await page.waitForFunction(
  (expected) => document.images.length === expected && [...document.images].every((img) => img.complete && img.naturalWidth > 0),
  count,
  { timeout: 600_000, polling: 20 },
);
const pageMs = performance.now() - started;
const shown = await page.evaluate(() => [...document.images].map((img) => `${img.naturalWidth}×${img.naturalHeight}`));
await browser.close();
await server.close();
process.stdout.write(`${JSON.stringify({ pageMs, shown: [...new Set(shown)].sort() })}\n`);
process.exit(0);
