// One Vite build in its own process, as `vite build` would run it, so that no build inherits
// another's in-memory caches and so that its peak memory is its own.
// Usage: node child-build.mjs '{"side":"imagegen"|"imagetools"|"static"|"bare","root":"…","fixtures":["…"],"freshPng":"…","staticDir":"…"}'
// Prints one JSON line: { buildMs, importMs, maxRssMiB, childRssMiB, cpuMs, providerCalls }, where
// maxRssMiB is the peak of the process and of the render process imagegen starts for 4K originals.
import path from "node:path";
import { followChildren } from "./peak-rss.mjs";

const { side, root, fixtures = [], freshPng, staticDir } = JSON.parse(process.argv[2]);

const importStarted = performance.now();
const { build } = await import("vite");
let plugins = [];
let provider;
if (side === "imagegen") {
  const [{ default: imagegen }, { fixtureProvider, freshPngProvider }] = await Promise.all([
    import("unplugin-imagegen/vite"),
    import("./fixture-provider.mjs"),
  ]);
  // The scale sites' provider makes a fresh PNG for each prompt; the others return the fixtures.
  provider = freshPng ? freshPngProvider(freshPng) : fixtureProvider(fixtures);
  const logger = { info() {}, warn: (message) => console.error(`[imagegen] ${message}`) };
  plugins = [imagegen({ root, provider, strict: true, logger })];
} else if (side === "bare") {
  const { bareManifestPlugin } = await import("./scale.mjs");
  plugins = [bareManifestPlugin(staticDir)];
} else if (side === "imagetools") {
  const { imagetools } = await import("vite-imagetools");
  plugins = [imagetools({ cache: { dir: path.join(root, "node_modules/.cache/imagetools") } })];
}
const importMs = performance.now() - importStarted;

const started = performance.now();
const treePeak = followChildren();
await build({
  root,
  configFile: false,
  logLevel: "silent",
  // Every image is a file on both sides (the plain app's smallest AVIFs would otherwise be inlined).
  build: { assetsInlineLimit: 0, modulePreload: { polyfill: false } },
  plugins,
});
const buildMs = performance.now() - started;
const { treeMiB, childrenMiB, treeCpuMs } = treePeak();

process.stdout.write(
  `${JSON.stringify({
    buildMs,
    importMs,
    maxRssMiB: treeMiB,
    childRssMiB: childrenMiB,
    // User and system CPU of the whole process and its children: steadier than wall time on a shared machine.
    cpuMs: treeCpuMs,
    providerCalls: provider?.calls ?? 0,
  })}\n`,
);
