// `node test/bench/bundlers.mjs [bundler…]`: cold and warm build time of the same page
// (test/fixtures/bundler-site) with every bundler entry, each build in its own process as a
// user's CLI run is. Cold: a fresh copy (no store, lock, derived cache or output) against the
// local emulator, so it times the local pipeline (download, sharp, bundling), not the real API.
// Warm: the same project again, store and derived cache in place. Prints progress on stderr,
// then a table of medians and one line of JSON on stdout. Not a test: nothing is asserted.
// Settings (environment): BENCH_RUNS (default 5).
import { spawn } from "node:child_process";
import { cp, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startEmulator } from "@imagegen/emulator";

const testDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const fixture = path.join(testDir, "fixtures", "bundler-site");
const driver = path.join(testDir, "support", "bundle.mjs");
// Inside the workspace, so that the fixture's imports resolve to the built packages.
const work = path.join(testDir, ".tmp", "bench-bundlers");
const runs = Number(process.env.BENCH_RUNS ?? 5);
const bundlers = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["vite", "rollup", "rolldown", "webpack", "rspack", "esbuild"];
const log = (message) => process.stderr.write(`${message}\n`);

const emulator = await startEmulator();

/** One build in a child process; resolves with its wall time in ms, as the parent sees it. */
function build(bundler, project) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [driver, bundler, project], {
      cwd: project,
      env: { ...process.env, ONEMIN_API_URL: emulator.url, ONEMIN_API_KEY: "bench-fake-key" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("close", (code) => {
      const ms = performance.now() - started;
      if (code === 0 && output.includes('bundle-result {"ok":true')) resolve(ms);
      else reject(new Error(`${bundler} build failed:\n${output}`));
    });
  });
}

async function freshProject(name) {
  const project = path.join(work, name);
  await rm(project, { recursive: true, force: true });
  await cp(fixture, project, { recursive: true });
  return project;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const results = [];
try {
  await mkdir(work, { recursive: true });
  for (const bundler of bundlers) {
    const cold = [];
    for (let i = 0; i < runs; i++) {
      const before = emulator.requests.length;
      cold.push(await build(bundler, await freshProject(`${bundler}-cold`)));
      if (emulator.requests.length - before !== 4) throw new Error(`${bundler}: a cold build made ${emulator.requests.length - before} requests, not 4`);
    }
    const project = await freshProject(`${bundler}-warm`);
    await build(bundler, project);
    const warm = [];
    for (let i = 0; i < runs; i++) {
      const before = emulator.requests.length;
      warm.push(await build(bundler, project));
      if (emulator.requests.length !== before) throw new Error(`${bundler}: a warm build made a request`);
    }
    const result = { bundler, coldMs: Math.round(median(cold)), warmMs: Math.round(median(warm)), cold: cold.map(Math.round), warm: warm.map(Math.round) };
    results.push(result);
    log(`${bundler}: cold ${result.cold.join(", ")} ms; warm ${result.warm.join(", ")} ms`);
  }
} finally {
  await emulator.close();
  await rm(work, { recursive: true, force: true });
}

const fastestWarm = Math.min(...results.map((r) => r.warmMs));
console.log(`\nMedians of ${runs} builds, each in its own process (4 originals, 10 variants; the emulator answers at once)\n`);
console.log("| bundler | cold build | warm build | warm / cold | warm / fastest warm |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const r of results) {
  console.log(`| ${r.bundler} | ${r.coldMs} ms | ${r.warmMs} ms | ${(r.warmMs / r.coldMs).toFixed(2)} | ${(r.warmMs / fastestWarm).toFixed(2)} |`);
}
console.log(`\n${JSON.stringify({ runs, results })}`);
