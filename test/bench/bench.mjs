// `pnpm bench`: imagegen's build-time costs side by side with what a user would otherwise run.
// Prints progress on stderr (each line with the seconds since the start), then a table and one
// line of JSON on stdout. Not a test: nothing here asserts a timing; it checks only that both
// sides of a comparison made the same files. The whole run is kept under 20 minutes on a quiet
// two-core machine. Settings (environment): BENCH_COLD_RUNS (default 2) rotating rounds of the
// cold builds, BENCH_WARM_RUNS (21), BENCH_CONCURRENCY_RUNS (5), BENCH_CI_RUNS (5) pairs of a cold
// CI build from the remote store and a warm local build, BENCH_RSS_IN_PROCESS=1 also builds the 4K
// app with every render in the build's process, BENCH_RSS_IMAGETOOLS=1 with vite-imagetools (each
// about 90 s more), BENCH_QUICK=1 a smoke run on a few images (its figures are not the
// benchmark's), BENCH_DEV_IMAGES (16) pictures on the dev pages, BENCH_DEV_COLD_RUNS (3) and
// BENCH_DEV_WARM_RUNS (5) dev-server pairs, BENCH_SCALE_RUNS (7) warm pairs of each manifest site
// of BENCH_SCALE_SIZES images (200,2000), BENCH_ONLY=dev the dev-server figures alone,
// BENCH_ONLY=scale the manifest sites alone, BENCH_ONLY=build every figure but the dev server's.
import { spawn } from "node:child_process";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Engine, parseGenId, resolveOptions, resolveSpec } from "@imagegen/core";
import { startEmulator } from "@imagegen/emulator";
import sharp from "sharp";
import {
  genId,
  imageFiles,
  resetDir,
  writeImagegenApp,
  writeImagegenDevApp,
  writeImagetoolsApp,
  writeImagetoolsDevApp,
  writeStaticApp,
} from "./apps.mjs";
import { fixtureProvider } from "./fixture-provider.mjs";

// The emulator stands in for the paid API: what it makes is kept, as the real API's would be.
process.env.IMAGEGEN_PERSISTENT ??= "1";
import { ensureFixtures } from "./fixtures.mjs";
import { benchCiColdVsWarm } from "./ci-cold.mjs";
import { benchScale } from "./scale.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const work = path.join(here, ".work");
const apps = path.join(work, "apps");
const cliBin = path.join(here, "..", "..", "packages", "unplugin", "bin", "imagegen.mjs");

const quick = process.env.BENCH_QUICK === "1";
const settings = {
  coldRuns: positiveInteger("BENCH_COLD_RUNS", quick ? 1 : 2),
  warmRuns: positiveInteger("BENCH_WARM_RUNS", quick ? 3 : 21),
  concurrencyRuns: positiveInteger("BENCH_CONCURRENCY_RUNS", quick ? 2 : 5),
  ciRuns: positiveInteger("BENCH_CI_RUNS", quick ? 2 : 5),
  rssImagetools: process.env.BENCH_RSS_IMAGETOOLS === "1",
  rssInProcess: process.env.BENCH_RSS_IN_PROCESS === "1",
  // The dev pages show this many of the 2K pictures: each cold pair encodes them on both sides.
  devImages: positiveInteger("BENCH_DEV_IMAGES", 16),
  prompts: 32,
  concurrency: 8,
  latencyMs: 400,
  devColdRuns: positiveInteger("BENCH_DEV_COLD_RUNS", quick ? 1 : 3),
  devWarmRuns: positiveInteger("BENCH_DEV_WARM_RUNS", quick ? 1 : 5),
  devLatencyMs: 8000,
  scaleRuns: positiveInteger("BENCH_SCALE_RUNS", quick ? 2 : 7),
  scaleSizes: (process.env.BENCH_SCALE_SIZES || (quick ? "20,100" : "200,2000")).split(",").map(Number),
  devOnly: process.env.BENCH_ONLY === "dev",
  scaleOnly: process.env.BENCH_ONLY === "scale",
  buildOnly: process.env.BENCH_ONLY === "build" || process.env.BENCH_ONLY === "scale",
};

const benchStarted = performance.now();
// Each line says when it was written (seconds since the start): where the bench's time goes.
const log = (message) => process.stderr.write(`[${((performance.now() - benchStarted) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
const quiet = { info() {}, warn: (message) => log(`[imagegen] ${message}`) };

// ── Fixtures and apps ──────────────────────────────────────────────────────────────────────────
log("Fixtures (made once, kept in test/bench/.work/fixtures)…");
const fixtures2k = (await ensureFixtures(path.join(work, "fixtures"), "2k", log)).slice(0, quick ? 6 : undefined);
const fixtures4k = (await ensureFixtures(path.join(work, "fixtures"), "4k", log)).slice(0, quick ? 3 : undefined);
const [fixture1k] = await ensureFixtures(path.join(work, "fixtures"), "1k", log);

// ── Manifest sites of hundreds and thousands of images ─────────────────────────────────────────
const scale = settings.devOnly ? undefined : await benchScale({
  apps,
  counts: settings.scaleSizes,
  pairs: settings.scaleRuns,
  // Each round reads the 2,000 originals (4 GiB) three times: 20 s a round on this machine.
  commandRounds: Math.min(settings.scaleRuns, 3),
  freshPng: fixture1k,
  run: runChild,
  cli: runCli,
  log,
});
const { scaleRows, scaleFigures, scaleNotes } = scale ? scaleReport(scale) : { scaleRows: [], scaleFigures: {}, scaleNotes: [] };
if (settings.scaleOnly) {
  printReport(scaleRows, scaleNotes, scaleFigures);
  process.exit(0);
}

const roots = {
  imagegen: path.join(apps, "imagegen-2k"),
  imagetools: path.join(apps, "imagetools-2k"),
  static: path.join(apps, "static-2k"),
  imagegen4k: path.join(apps, "imagegen-4k"),
  imagetools4k: path.join(apps, "imagetools-4k"),
  devImagegen: path.join(apps, "dev-imagegen-2k"),
  devImagetools: path.join(apps, "dev-imagetools-2k"),
  devMissing: path.join(apps, "dev-missing"),
};
for (const root of Object.values(roots)) await resetDir(root);
await writeImagegenApp(roots.imagegen, "2k", fixtures2k.length);
await writeImagetoolsApp(roots.imagetools, fixtures2k);
await writeImagegenApp(roots.imagegen4k, "4k", fixtures4k.length);
const devFixtures = fixtures2k.slice(0, settings.devImages);
await writeImagegenDevApp(roots.devImagegen, "2k", devFixtures.length);
await writeImagetoolsDevApp(roots.devImagetools, devFixtures);
// Prompts no store holds: every module of this app is missing its original.
await writeImagegenDevApp(roots.devMissing, "missing", 5);

log("Seeding the stores through a custom provider that returns the fixture bytes…");
await seedStore(roots.imagegen, "2k", fixtures2k);
await seedStore(roots.imagegen4k, "4k", fixtures4k);
await seedStore(roots.devImagegen, "2k", devFixtures);

// ── Dev server: a missing module, and a page of every image, vs vite-imagetools ───────────────
// Skipped with BENCH_ONLY=build: the dev pairs take half an hour on this machine.
const dev = settings.buildOnly ? { devRows: [], devFigures: {}, devNotes: [] } : await measureDev();
const { devRows, devFigures } = dev;
async function measureDev() {
  log(`Dev server: gen: modules whose original is missing, the API answering in ${settings.devLatencyMs / 1000} s…`);
  const devMissingMs = [];
  const slowApi = await startEmulator({ latencyMs: settings.devLatencyMs });
  try {
    for (let run = 1; run <= settings.devWarmRuns; run++) {
      const { result } = await runChild("child-dev.mjs", { side: "missing", root: roots.devMissing, apiUrl: slowApi.url });
      devMissingMs.push(...result.moduleMs);
      log(`  run ${run}: ${result.moduleMs.map((ms) => `${ms.toFixed(1)} ms`).join(", ")}`);
    }
  } finally {
    await slowApi.close();
  }
  const devPage = { cold: { imagegen: [], imagetools: [], ratios: [] }, warm: { imagegen: [], imagetools: [], ratios: [] } };
  let devShown;
  for (const phase of ["cold", "warm"]) {
    const pairs = phase === "cold" ? settings.devColdRuns : settings.devWarmRuns;
    log(`Dev server, ${phase}: start to a page of ${devFixtures.length} pictures loaded in Chromium (${pairs} pair(s), alternating)…`);
    for (let pair = 0; pair < pairs; pair++) {
      const order = pair % 2 === 0 ? ["imagegen", "imagetools"] : ["imagetools", "imagegen"];
      const times = {};
      for (const side of order) {
        const root = side === "imagegen" ? roots.devImagegen : roots.devImagetools;
        // Cold: the derived caches emptied (the store stays warm); warm: a restart, with what the last run cached.
        if (phase === "cold") await rm(path.join(root, "node_modules", ".cache"), { recursive: true, force: true });
        const { result } = await runChild("child-dev.mjs", { side, root, count: devFixtures.length });
        times[side] = result.pageMs;
        devPage[phase][side].push(result.pageMs);
        const shown = result.shown.join(", ");
        if (devShown !== undefined && shown !== devShown) throw new Error(`the two dev pages show different sizes: ${shown} vs ${devShown}`);
        devShown = shown;
        log(`  ${side.padEnd(10)} ${phase}: ${fmtMs(result.pageMs)}`);
      }
      devPage[phase].ratios.push(times.imagegen / times.imagetools);
    }
  }
  const devFigures = {
    devMissingModuleMs: round3(median(devMissingMs)),
    devColdVsImagetools: round3(median(devPage.cold.ratios)),
    devWarmVsImagetools: round3(median(devPage.warm.ratios)),
  };
  const devRows = [
    [
      `dev: a gen: module whose original is missing (API ${settings.devLatencyMs / 1000} s)`,
      `${devFigures.devMissingModuleMs.toFixed(1)} ms`,
      `max ${Math.max(...devMissingMs).toFixed(1)} ms`,
      "",
      "≤ 200 ms",
      String(devMissingMs.length),
      mark(devFigures.devMissingModuleMs <= 200),
    ],
    devPageRow(`dev: start → ${devFixtures.length} pictures loaded, derived caches empty`, "cold", devFigures.devColdVsImagetools, 1),
    devPageRow("dev: the same after a restart, caches kept", "warm", devFigures.devWarmVsImagetools, 0.2),
  ];
  function devPageRow(label, phase, ratio, target) {
    const { imagegen, imagetools, ratios } = devPage[phase];
    const row = [label, fmtMs(median(imagegen)), `${fmtMs(median(imagetools))} imagetools`, ratio.toFixed(3)];
    return [...row, `≤ ${target.toFixed(1)}`, String(ratios.length), mark(ratio <= target)];
  }
  const devNotes = [`dev pages (both sides): ${devShown}; per-pair ratios — dev cold: ${devPage.cold.ratios.map(round3).join(" ")}; dev warm: ${devPage.warm.ratios.map(round3).join(" ")}`];
  return { devRows, devFigures, devNotes };
}
if (settings.devOnly) {
  printReport(devRows, dev.devNotes, devFigures);
  process.exit(0);
}

// ── Concurrency against the emulator ──────────────────────────────────────────────────────────
log(`Concurrency: ${settings.prompts} prompts, ${settings.latencyMs} ms latency, concurrency ${settings.concurrency}…`);
const idealMs = Math.ceil(settings.prompts / settings.concurrency) * settings.latencyMs;
const concurrencyMs = [];
const emulator = await startEmulator({ latencyMs: settings.latencyMs });
try {
  for (let run = 1; run <= settings.concurrencyRuns; run++) {
    const root = path.join(work, "concurrency", `run-${run}`);
    await resetDir(root);
    emulator.reset();
    const { result } = await runChild("child-generate.mjs", {
      root,
      apiUrl: emulator.url,
      count: settings.prompts,
      concurrency: settings.concurrency,
      run,
    });
    if (emulator.requests.length !== settings.prompts) {
      throw new Error(`expected ${settings.prompts} requests to the emulator, got ${emulator.requests.length}`);
    }
    concurrencyMs.push(result.ms);
    log(`  run ${run}: ${fmtMs(result.ms)} (ideal ${fmtMs(idealMs)})`);
  }
} finally {
  await emulator.close();
}

// ── Cold: imagegen vs vite-imagetools, both caches empty ───────────────────────────────────────
log(`Cold builds, ${fixtures2k.length} 2K originals → w=640;1280 × avif;webp, and the bare sharp script making the same (${settings.coldRuns} round(s), rotating)…`);
const cold = { imagegen: [], imagetools: [], floor: [], ratios: [], floorRatios: [] };
const coldSides = ["imagegen", "imagetools", "floor"];
for (let pair = 0; pair < settings.coldRuns; pair++) {
  const order = coldSides.map((_, i) => coldSides[(i + pair) % coldSides.length]);
  const times = {};
  for (const side of order) {
    if (side === "floor") {
      const { result } = await runChild("child-floor.mjs", { files: fixtures2k, widths: [640, 1280], formats: ["avif", "webp"] });
      times.floor = result;
      cold.floor.push(result);
      log(`  ${"floor".padEnd(10)} cold: ${fmtMs(result.buildMs)}, ${result.variants} variants, ${fmtBytes(result.bytes)}, peak RSS ${result.maxRssMiB.toFixed(0)} MiB`);
      continue;
    }
    await clearCaches(side);
    const { result } = await buildApp(side, { fixtures: fixtures2k });
    if (side === "imagegen" && result.providerCalls !== 0) throw new Error("the cold imagegen build generated originals");
    times[side] = result;
    cold[side].push(result);
    log(`  ${side.padEnd(10)} cold: ${fmtMs(result.buildMs)}, peak RSS ${result.maxRssMiB.toFixed(0)} MiB`);
  }
  cold.ratios.push(times.imagegen.buildMs / times.imagetools.buildMs);
  cold.floorRatios.push(times.imagegen.buildMs / times.floor.buildMs);
}
const outputs = {
  imagegen: await describeOutputs(path.join(roots.imagegen, "dist")),
  imagetools: await describeOutputs(path.join(roots.imagetools, "dist")),
};
if (outputs.imagegen.summary !== outputs.imagetools.summary) {
  throw new Error(`the two sides made different files:\n  imagegen:   ${outputs.imagegen.summary}\n  imagetools: ${outputs.imagetools.summary}`);
}
if (cold.floor[0].bytes !== outputs.imagegen.bytes) {
  throw new Error(`the bare sharp script made ${cold.floor[0].bytes} bytes, imagegen ${outputs.imagegen.bytes}: not the same variants`);
}

// ── Warm: imagegen vs plain static assets vs vite-imagetools ───────────────────────────────────
await writeStaticApp(roots.static, await finalImages(path.join(roots.imagegen, "dist")));
log(`Warm builds (${settings.warmRuns} rounds, rotating order, after one untimed round)…`);
const warm = {
  imagegen: [],
  static: [],
  imagetools: [],
  overhead: [],
  vsImagetools: [],
  processOverhead: [],
  process: { imagegen: [], static: [], imagetools: [] },
  importMs: { imagegen: [], static: [], imagetools: [] },
};
const sides = ["imagegen", "static", "imagetools"];
for (let round = 0; round <= settings.warmRuns; round++) {
  const order = sides.map((_, i) => sides[(i + round) % sides.length]);
  const times = {};
  const walls = {};
  for (const side of order) {
    const { result, wallMs } = await buildApp(side, { fixtures: fixtures2k });
    if (result.providerCalls !== 0) throw new Error("a warm build generated originals");
    times[side] = result.buildMs;
    walls[side] = wallMs;
    if (round > 0) {
      warm.process[side].push(wallMs);
      warm.importMs[side].push(result.importMs);
    }
  }
  if (round === 0) continue;
  for (const side of sides) warm[side].push(times[side]);
  warm.overhead.push(times.imagegen / times.static);
  warm.vsImagetools.push(times.imagegen / times.imagetools);
  warm.processOverhead.push(walls.imagegen / walls.static);
  log(
    `  round ${round}: ${sides.map((side) => `${side} ${fmtMs(times[side])}`).join(", ")}; ` +
      `whole processes ${sides.map((side) => `${side} ${fmtMs(walls[side])}`).join(", ")}`,
  );
}
const warmOutputs = await describeOutputs(path.join(roots.static, "dist"));
if (warmOutputs.summary !== outputs.imagegen.summary) throw new Error("the static app did not emit the same images");

// ── A cached gen: module ───────────────────────────────────────────────────────────────────────
log("Cached gen: modules, answered by the plugin outside of a bundler…");
const { result: hit } = await runChild(
  "child-hit.mjs",
  {
    root: roots.imagegen,
    ids: fixtures2k.map((_, i) => genId("2k", i)),
    cacheDir: path.join(roots.imagegen, "node_modules/.cache/imagegen"),
  },
  roots.imagegen,
);

// ── A cold CI machine reading the remote store ─────────────────────────────────────────────────
log(`CI cold vs warm: ${fixtures2k.length} 2K images, the remote (s3rver on loopback) holding originals, renditions and the lock's build pack…`);
const ci = await benchCiColdVsWarm({
  work,
  source: roots.imagegen,
  root: path.join(apps, "imagegen-2k-ci"),
  set: "2k",
  count: fixtures2k.length,
  runs: settings.ciRuns,
  build: (root, env) => runChild("child-build.mjs", { side: "imagegen", root, fixtures: fixtures2k }, root, env),
  log,
});
if ((await describeOutputs(path.join(apps, "imagegen-2k-ci", "dist"))).summary !== outputs.imagegen.summary) {
  throw new Error("the CI build from the remote did not emit the same images");
}

// ── Peak memory of a 4K build ──────────────────────────────────────────────────────────────────
log(`Peak memory: ${fixtures4k.length} 4K originals → w=1280;2560 × avif;webp, derived cache empty…`);
await rm(path.join(roots.imagegen4k, "node_modules/.cache/imagegen"), { recursive: true, force: true });
const { result: rss4k } = await buildApp("imagegen4k", { side: "imagegen", fixtures: fixtures4k });
const renderProcessMiB = (result) => (result.childRssMiB.length ? ` (of which the render process ${result.childRssMiB.map(Math.round).join(" + ")} MiB)` : "");
log(`  imagegen: ${fmtMs(rss4k.buildMs)}, peak RSS ${rss4k.maxRssMiB.toFixed(0)} MiB${renderProcessMiB(rss4k)}`);
// With BENCH_RSS_IN_PROCESS=1, the same build with every render in the build's own process: what
// the render process (whose allocator gives freed memory back, docs/performance.md) saves, and
// what it costs in time (about 90 s more).
let rss4kInProcess;
if (settings.rssInProcess) {
  await rm(path.join(roots.imagegen4k, "node_modules/.cache/imagegen"), { recursive: true, force: true });
  ({ result: rss4kInProcess } = await buildApp("imagegen4k", {
    side: "imagegen",
    fixtures: fixtures4k,
    env: { ...process.env, IMAGEGEN_RENDER_PROCESS: "0" },
  }));
  log(`  imagegen with IMAGEGEN_RENDER_PROCESS=0: ${fmtMs(rss4kInProcess.buildMs)}, peak RSS ${rss4kInProcess.maxRssMiB.toFixed(0)} MiB`);
}
let rss4kImagetools;
if (settings.rssImagetools) {
  await writeImagetoolsApp(roots.imagetools4k, fixtures4k);
  const main = path.join(roots.imagetools4k, "src", "main.js");
  await writeFile(main, (await readFile(main, "utf8")).replaceAll("w=640;1280", "w=1280;2560"));
  ({ result: rss4kImagetools } = await buildApp("imagetools4k", { side: "imagetools", fixtures: fixtures4k }));
  log(`  imagetools: ${fmtMs(rss4kImagetools.buildMs)}, peak RSS ${rss4kImagetools.maxRssMiB.toFixed(0)} MiB`);
}

// ── Report ─────────────────────────────────────────────────────────────────────────────────────
const figures = {
  processOverhead: round3(median(warm.processOverhead)),
  warmOverhead: round3(median(warm.overhead)),
  vsImagetoolsCold: round3(median(cold.ratios)),
  concurrencyEfficiency: round3(idealMs / median(concurrencyMs)),
  peakRssMiB: Math.round(rss4k.maxRssMiB),
  // With BENCH_RSS_IN_PROCESS=1: the same 4K build rendered in one process, and the render process's time against it (one build each).
  ...(rss4kInProcess && {
    peakRssInProcessMiB: Math.round(rss4kInProcess.maxRssMiB),
    renderProcessTime: round3(rss4k.buildMs / rss4kInProcess.buildMs),
  }),
  hitMs: round3(median(hit.hitMs)),
  ciColdVsWarm: round3(median(ci.ratios)),
  coldVsEncodeFloor: round3(median(cold.floorRatios)),
  ...scaleFigures,
};

const rows = [
  ["metric", "imagegen", "compared with", "ratio", "target", "runs", ""],
  [
    "whole warm vite build process ÷ static app's",
    fmtMs(median(warm.process.imagegen)),
    `${fmtMs(median(warm.process.static))} static`,
    figures.processOverhead.toFixed(3),
    "≤ 1.05",
    String(warm.processOverhead.length),
    mark(figures.processOverhead <= 1.05),
  ],
  [
    "warm build ÷ same files as static assets",
    fmtMs(median(warm.imagegen)),
    `${fmtMs(median(warm.static))} static`,
    figures.warmOverhead.toFixed(3),
    "≤ 1.00",
    String(warm.overhead.length),
    mark(figures.warmOverhead <= 1),
  ],
  [
    "cold build ÷ vite-imagetools (caches empty)",
    fmtMs(median(cold.imagegen.map((r) => r.buildMs))),
    `${fmtMs(median(cold.imagetools.map((r) => r.buildMs)))} imagetools`,
    figures.vsImagetoolsCold.toFixed(3),
    "≤ 0.95",
    `${cold.ratios.length}${cold.ratios.length < 5 ? "*" : ""}`,
    mark(figures.vsImagetoolsCold <= 0.95),
  ],
  [
    "cold build ÷ bare sharp script, same variants",
    fmtMs(median(cold.imagegen.map((r) => r.buildMs))),
    `${fmtMs(median(cold.floor.map((r) => r.buildMs)))} sharp alone`,
    figures.coldVsEncodeFloor.toFixed(3),
    "≤ 1.10",
    String(cold.floorRatios.length),
    mark(figures.coldVsEncodeFloor <= 1.1),
  ],
  [
    `${settings.prompts} prompts, ${settings.latencyMs} ms latency, concurrency ${settings.concurrency}`,
    fmtMs(median(concurrencyMs)),
    `${fmtMs(idealMs)} ideal`,
    figures.concurrencyEfficiency.toFixed(3),
    "≥ 0.90",
    String(concurrencyMs.length),
    mark(figures.concurrencyEfficiency >= 0.9),
  ],
  [
    `peak RSS, ${fixtures4k.length} 4K → 1280;2560 × avif;webp`,
    `${figures.peakRssMiB} MiB`,
    [
      `render process ${Math.round(sum(rss4k.childRssMiB))} MiB`,
      rss4kInProcess && `${Math.round(rss4kInProcess.maxRssMiB)} MiB in one process`,
      rss4kImagetools && `${Math.round(rss4kImagetools.maxRssMiB)} MiB imagetools`,
    ].filter(Boolean).join("; "),
    "",
    "≤ 600 MiB",
    "1",
    mark(figures.peakRssMiB <= 600),
  ],
  [
    "cold CI build from the remote ÷ warm local",
    fmtMs(median(ci.cold)),
    `${fmtMs(median(ci.warm))} warm`,
    figures.ciColdVsWarm.toFixed(3),
    "≤ 1.5",
    String(ci.ratios.length),
    mark(figures.ciColdVsWarm <= 1.5),
  ],
  [
    "cached gen: module, median",
    `${figures.hitMs.toFixed(2)} ms`,
    `${median(hit.readMs).toFixed(2)} ms reading its files`,
    "",
    "~ a file read",
    String(hit.hitMs.length),
    "",
  ],
];
const notes = [];
if (cold.ratios.length < 5) {
  notes.push(`* the cold comparison ran ${cold.ratios.length} alternating pair(s), not 5: one pair takes minutes on this machine (BENCH_COLD_RUNS=5 for more).`);
}
notes.push(`outputs (both sides): ${outputs.imagegen.summary}`);
notes.push(`bytes: imagegen ${fmtBytes(outputs.imagegen.bytes)}, imagetools ${fmtBytes(outputs.imagetools.bytes)}`);
notes.push(
  `cold peak RSS: imagegen ${Math.round(median(cold.imagegen.map((r) => r.maxRssMiB)))} MiB, imagetools ${Math.round(median(cold.imagetools.map((r) => r.maxRssMiB)))} MiB; ` +
    `in-memory repeat of a gen: module ${median(hit.memoryHitMs).toFixed(3)} ms`,
);
notes.push(
  `whole warm \`vite build\` processes (Node start, imports, build): ${sides.map((side) => `${side} ${fmtMs(median(warm.process[side]))}`).join(", ")}; ` +
    `importing vite and the plugin: ${sides.map((side) => `${side} ${fmtMs(median(warm.importMs[side]))}`).join(", ")}`,
);
// vsImagetoolsWarm is retired (the static app is the floor, warmOverhead measures against it): a note, not a figure.
notes.push(`warm build ÷ vite-imagetools (caches full): ${round3(median(warm.vsImagetools))} (${fmtMs(median(warm.imagegen))} ÷ ${fmtMs(median(warm.imagetools))})`);
notes.push(`per-pair ratios — cold: ${cold.ratios.map(round3).join(" ")}; whole process/static: ${warm.processOverhead.map(round3).join(" ")}; warm/static: ${warm.overhead.map(round3).join(" ")}; warm/imagetools: ${warm.vsImagetools.map(round3).join(" ")}; CI cold/warm: ${ci.ratios.map(round3).join(" ")}`);
notes.push(`remote store for the CI build: ${ci.objects.originals} originals and ${ci.objects.renditions} renditions (and their build pack), ${fmtBytes(ci.objects.bytes)}, read-only, over loopback`);
notes.push(`per-round cold ÷ bare sharp script: ${cold.floorRatios.map(round3).join(" ")}`);
notes.push(...scaleNotes, ...dev.devNotes);
printReport([...rows.slice(1), ...scaleRows, ...devRows], notes, { ...figures, ...devFigures });

// ── Helpers ────────────────────────────────────────────────────────────────────────────────────

/** Prints the machine, the table of `rows`, the `notes` and one line of JSON `figures` on stdout. */
function printReport(rows, notes, figures) {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const table = [["metric", "imagegen", "compared with", "ratio", "target", "runs", ""], ...rows];
  const widths = table[0].map((_, column) => Math.max(...table.map((row) => row[column].length)));
  const line = (row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join("  ");
  const out = [""];
  out.push(`imagegen bench — ${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ${os.platform()} ${os.release()}`);
  out.push(`${fixtures2k.length} 2K / ${fixtures4k.length} 4K fixture PNGs; both sides: lanczos3 resize, AVIF quality 50 effort 4, WebP quality 80 effort 4, metadata stripped`);
  if (quick) out.push("BENCH_QUICK=1: a smoke run on a few images; these figures are not the benchmark's.");
  out.push("", line(table[0]), widths.map((w) => "─".repeat(w)).join("  "), ...table.slice(1).map(line), "", ...notes);
  out.push(`load average at the end: ${os.loadavg().map((n) => n.toFixed(2)).join(" ")}; bench took ${fmtMs(performance.now() - benchStarted)}`);
  out.push(JSON.stringify(figures));
  process.stdout.write(`${out.join("\n")}\n`);
}

async function seedStore(root, set, files) {
  const provider = fixtureProvider(files);
  const options = await resolveOptions({ root, provider, strict: true, logger: quiet });
  const engine = new Engine(options);
  for (let i = 0; i < files.length; i++) {
    const id = genId(set, i);
    const spec = resolveSpec(parseGenId(id), { ...options, source: { file: root, id } });
    await engine.resolveOriginal(spec);
  }
  if (provider.calls > 0) log(`  ${provider.calls} ${set} original(s) stored`);
}

async function clearCaches(side) {
  const root = roots[side];
  await rm(path.join(root, "dist"), { recursive: true, force: true });
  await rm(path.join(root, "node_modules", ".cache"), { recursive: true, force: true });
}

function buildApp(app, { side = app, fixtures, env }) {
  const root = roots[app];
  return runChild("child-build.mjs", { side, root, fixtures }, root, env);
}

/** The scale figures' rows, notes and JSON fields (`benchScale`'s result). */
function scaleReport({ sites, commands, hashed }) {
  const scaleFigures = {};
  const scaleRows = [];
  const scaleNotes = [];
  for (const { count, warm } of sites) {
    const name = `scaleWarm${count}`;
    scaleFigures[name] = round3(median(warm.ratios));
    scaleRows.push([
      `whole warm process, ${count}-image manifest + config ÷ static`,
      fmtMs(median(warm.imagegen)),
      `${fmtMs(median(warm.static))} static`,
      scaleFigures[name].toFixed(3),
      "≤ 1.10",
      String(warm.ratios.length),
      mark(scaleFigures[name] <= 1.1),
    ]);
    scaleNotes.push(`${name} pairs: ${warm.ratios.map(round3).join(" ")}; imagegen ${range(warm.imagegen)}, static ${range(warm.static)}`);
  }
  const [small, large] = [sites[0], sites.at(-1)];
  scaleFigures[`checkVsFloor${large.count}`] = round3(median(commands.checkRatios));
  scaleFigures[`listVsFloor${large.count}`] = round3(median(commands.listRatios));
  scaleFigures[`coldRss${large.count}VsRss${small.count}`] = round3(large.cold.maxRssMiB / small.cold.maxRssMiB);
  scaleRows.push(
    [
      `imagegen check, ${large.count} images ÷ read and hash the project`,
      fmtMs(median(commands.check)),
      `${fmtMs(median(commands.floor))} read+hash`,
      scaleFigures[`checkVsFloor${large.count}`].toFixed(3),
      "≤ 2.0",
      String(commands.checkRatios.length),
      mark(scaleFigures[`checkVsFloor${large.count}`] <= 2),
    ],
    [
      `imagegen list --json, ${large.count} images ÷ the same`,
      fmtMs(median(commands.list)),
      `${fmtMs(median(commands.floor))} read+hash`,
      scaleFigures[`listVsFloor${large.count}`].toFixed(3),
      "",
      String(commands.listRatios.length),
      "",
    ],
    [
      `cold peak RSS, ${large.count} images ÷ ${small.count}`,
      `${Math.round(large.cold.maxRssMiB)} MiB`,
      `${Math.round(small.cold.maxRssMiB)} MiB`,
      scaleFigures[`coldRss${large.count}VsRss${small.count}`].toFixed(3),
      "≤ 1.2",
      "1",
      mark(scaleFigures[`coldRss${large.count}VsRss${small.count}`] <= 1.2),
    ],
  );
  // What a warm build of each size holds, against a bare plugin that emits the same files with a
  // module of the same shape: the part of the cold figure that grows with the site without imagegen.
  const warmRss = (side) => round3(large.peaks[side] / small.peaks[side]);
  scaleFigures[`warmRss${large.count}VsRss${small.count}`] = warmRss("imagegen");
  scaleFigures[`bareRss${large.count}VsRss${small.count}`] = warmRss("bare");
  scaleRows.push([
    `warm peak RSS, ${large.count} images ÷ ${small.count}`,
    `${Math.round(large.peaks.imagegen)} MiB`,
    `${Math.round(small.peaks.imagegen)} MiB; bare ${warmRss("bare").toFixed(3)}`,
    warmRss("imagegen").toFixed(3),
    "",
    "1",
    "",
  ]);
  scaleNotes.push(
    `warm peak RSS, ${small.count} and ${large.count} images: imagegen ${Math.round(small.peaks.imagegen)} and ${Math.round(large.peaks.imagegen)} MiB; ` +
      `a bare plugin emitting the same files, module of the same shape ${Math.round(small.peaks.bare)} and ${Math.round(large.peaks.bare)} MiB (${warmRss("bare")}); ` +
      `static app ${Math.round(small.peaks.static)} and ${Math.round(large.peaks.static)} MiB (${warmRss("static")})`,
    `scale cold builds: ${sites.map(({ count, cold }) => `${count} images ${fmtMs(cold.buildMs)}, ${Math.round(cold.maxRssMiB)} MiB`).join("; ")}`,
    `check ${range(commands.check)}, list --json ${range(commands.list)}, read and hash ${range(commands.floor)} (${hashed.files} files, ${fmtBytes(hashed.bytes)})`,
  );
  return { scaleRows, scaleFigures, scaleNotes };
}

/** `min–max ms` of a list of times. */
function range(values) {
  return `${fmtMs(Math.min(...values))}–${fmtMs(Math.max(...values))}`;
}

/** Runs the imagegen CLI (`args`) in `cwd` in its own process; resolves with its wall time. It must exit 0. */
function runCli(args, cwd) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cliBin, ...args], { cwd, stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`imagegen ${args.join(" ")} exited with ${code}`))));
  });
}

/** Runs a bench script in a fresh Node process; resolves with its last stdout line, parsed. */
function runChild(script, args, cwd = here, env = process.env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(here, script), JSON.stringify(args)], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      const last = stdout.trim().split("\n").at(-1);
      resolve({ result: JSON.parse(last), wallMs: performance.now() - started });
    });
  });
}

/** `<count>× <format> <w>×<h>` of every image in a dist folder (read back with sharp), and their bytes. */
async function describeOutputs(dist) {
  const counts = new Map();
  let bytes = 0;
  for (const file of await imageFiles(dist)) {
    const { format, compression, width, height } = await sharp(file).metadata();
    const name = `${compression === "av1" ? "avif" : format} ${width}×${height}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    bytes += (await stat(file)).size;
  }
  const summary = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([name, count]) => `${count}× ${name}`).join(", ");
  return { summary, bytes };
}

/** The files an imagegen build emitted, grouped by fixture, in the rendition's order. */
async function finalImages(dist) {
  const images = [];
  for (const file of await imageFiles(dist)) {
    const match = /image-(\d+)-(\d+)\.[0-9a-f]{10}\.(avif|webp)$/.exec(path.basename(file));
    if (!match) continue;
    const [, index, width, extension] = match;
    const { height } = await sharp(file).metadata();
    (images[Number(index)] ??= []).push({ file, width: Number(width), height, extension, format: extension });
  }
  const order = (v) => (v.format === "avif" ? 0 : 1) * 1e6 + v.width;
  for (const variants of images) variants.sort((a, b) => order(a) - order(b));
  return images;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function sum(values) {
  return values.reduce((total, value) => total + value, 0);
}

function round3(value) {
  return Math.round(value * 1000) / 1000;
}

function fmtMs(ms) {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function fmtBytes(bytes) {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

function mark(ok) {
  return ok ? "ok" : "MISSED";
}

function positiveInteger(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`${name} must be a positive integer (got "${value}")`);
  return number;
}

