// How long the plugin takes to answer a `gen:` module whose original and variants are cached
// on disk (a warm build's every module), beside the floor: reading the same variant files.
// Usage: node child-hit.mjs '{"root":"…","ids":["gen:…"],"cacheDir":"…"}'
// Prints one JSON line: { hitMs: number[], memoryHitMs: number[], readMs: number[] }.
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import imagegen from "unplugin-imagegen/vite";

const { root, ids, cacheDir } = JSON.parse(process.argv[2]);
const importer = path.join(root, "src", "main.js");

const plugin = imagegen({
  root,
  // Everything is cached: a provider call would be a bug, not a measurement.
  provider: { id: "bench-fixture", generate: () => Promise.reject(new Error("the store should have every original")) },
  strict: true,
  logger: { info() {}, warn: (message) => console.error(`[imagegen] ${message}`) },
});
let references = 0;
const context = {
  emitFile: () => `ref${references++}`,
  addWatchFile() {},
  warn() {},
  error(error) {
    throw error;
  },
};

await plugin.buildStart.call(context);
const virtualIds = [];
for (const id of ids) virtualIds.push(await plugin.resolveId.call(context, id, importer, {}));

// The first load resolves the options and reads the lockfile, once per build: not a per-module cost.
await plugin.load.call(context, virtualIds[0]);
const hitMs = [];
for (const virtualId of virtualIds.slice(1)) {
  const started = performance.now();
  const code = await plugin.load.call(context, virtualId);
  hitMs.push(performance.now() - started);
  if (typeof code !== "string" || !code.includes("srcset")) throw new Error(`unexpected module for ${virtualId}`);
}
// The same modules again in the same build: answered from memory.
const memoryHitMs = [];
for (const virtualId of virtualIds.slice(1)) {
  const started = performance.now();
  await plugin.load.call(context, virtualId);
  memoryHitMs.push(performance.now() - started);
}

// The floor: reading each rendition's files (its JSON and its variants), with nothing else.
const byEntry = new Map();
for (const name of await readdir(cacheDir)) {
  const key = name.split(".")[0];
  if (!name.startsWith(".")) (byEntry.get(key) ?? byEntry.set(key, []).get(key)).push(name);
}
const readMs = [];
for (const names of byEntry.values()) {
  const started = performance.now();
  await Promise.all(names.map((name) => readFile(path.join(cacheDir, name))));
  readMs.push(performance.now() - started);
}

process.stdout.write(`${JSON.stringify({ hitMs, memoryHitMs, readMs })}\n`);
