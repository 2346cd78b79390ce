// Generates `count` distinct originals through the onemin provider against an emulator, in
// its own process (the emulator runs in the parent), and reports how long that took.
// Usage: node child-generate.mjs '{"root":"…","apiUrl":"…","count":32,"concurrency":8,"run":1}'
// Prints one JSON line: { ms, requests }.
import { Engine, parseGenId, resolveOptions, resolveSpec } from "@imagegen/core";

const { root, apiUrl, count, concurrency, run } = JSON.parse(process.argv[2]);

const options = await resolveOptions({
  root,
  configFile: false,
  // The emulator accepts any key; this one is never sent anywhere else.
  apiKey: "bench-fake-key",
  apiUrl,
  concurrency,
  logger: { info() {}, warn: (message) => console.error(`[imagegen] ${message}`) },
});
const engine = new Engine(options);
const specs = Array.from({ length: count }, (_, i) => {
  const id = `gen:bench concurrency run ${run} prompt ${i}`;
  return resolveSpec(parseGenId(id), { ...options, source: { file: root, id } });
});

const started = performance.now();
await Promise.all(specs.map((spec) => engine.resolveOriginal(spec)));
const ms = performance.now() - started;

process.stdout.write(`${JSON.stringify({ ms, generated: engine.stats.generated })}\n`);
