// A long dev session in a process of its own (node --expose-gc): a Vite dev server with the plugin,
// and `edits` saves of a manifest's prompt, each waited for until its image is generated, stored
// and one variant of it served. Prints one JSON line: the heap and buffer bytes after a GC, once
// warmed up and at the end.
//   node --expose-gc dev-session-child.mjs '{"root":"…","apiUrl":"…","apiKey":"…","edits":100}'
import { writeFile } from "node:fs/promises";
import path from "node:path";
import imagegen from "unplugin-imagegen/vite";
import { createServer } from "vite";

const { root, apiUrl, apiKey, edits, warmup = 10 } = JSON.parse(process.argv[2]);
const quiet = { info() {}, warn() {} };
const server = await createServer({
  root,
  configFile: false,
  logLevel: "silent",
  server: { port: 0, host: "127.0.0.1", ws: false },
  plugins: [imagegen({ root, apiKey, apiUrl, logger: quiet, generationDelayMs: 0 })],
});
await server.listen();
const base = `http://127.0.0.1:${server.httpServer.address().port}`;
const manifest = path.join(root, "src", "site.prompts.yaml");
const get = async (url) => {
  const response = await fetch(new URL(url, base));
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
};

/** Saves the prompt, then asks for the manifest module until it shows the stored image, and one of its variants. */
async function edit(i) {
  await writeFile(manifest, `images:\n  hero:\n    prompt: A heron by the river, edit ${i}\n    w: [64]\n    format: [webp]\n`);
  for (;;) {
    const code = (await get("/src/site.prompts.yaml?import")).body.toString("utf8");
    const urls = [...code.matchAll(/"(\/@imagegen\/[^"]+)"/g)].map((match) => match[1]);
    if (code.includes(`edit ${i}`) && urls.length > 0 && !urls.some((url) => url.includes("/pending/"))) {
      const variant = await get(urls[0]);
      if (variant.status !== 200) throw new Error(`${urls[0]} answered ${variant.status}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function measure() {
  globalThis.gc();
  globalThis.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

await get("/src/main.js");
for (let i = 0; i < warmup; i++) await edit(i);
const warm = measure();
for (let i = warmup; i < edits; i++) await edit(i);
const end = measure();
await server.close();
console.log(JSON.stringify({ warm, end, growth: end - warm, edits: edits - warmup }));
