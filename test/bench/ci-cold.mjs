// ciColdVsWarm: the 40-image app built on a cold CI machine (no local store, no derived cache,
// the remote store holding originals, renditions and the lock's build pack, over loopback, read-only) ÷ the same app's
// warm local build. The remote is s3rver (the S3 REST protocol, objects on disk) started here.
import { cp, mkdir, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { DerivedCache, RemoteStore, Store, packDigest } from "@imagegen/core";
import { writeImagegenApp } from "./apps.mjs";

const require = createRequire(import.meta.url);
const S3rver = require("s3rver");

/**
 * `source` is an app whose store, lock and derived cache are warm; `root` becomes a copy of it
 * with only the lock (what a checkout has). `build(root, env)` runs one Vite build in its own
 * process and resolves with `{ result, wallMs }`.
 */
export async function benchCiColdVsWarm({ work, source, root, set, count, runs, build, log }) {
  const directory = await mkdtemp(path.join(work, "s3-"));
  const s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: "bench" }] });
  const { port } = await s3.run();
  const remoteEnv = {
    IMAGEGEN_REMOTE: "s3://bench/ci",
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
    // s3rver's built-in key pair; it does not check SigV4 signatures.
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
  };
  try {
    const objects = await fillRemote(source, { ...process.env, ...remoteEnv });
    log(`  remote filled: ${objects.originals} originals, ${objects.renditions} renditions and their build pack (${(objects.bytes / 2 ** 20).toFixed(1)} MiB)`);

    await rm(root, { recursive: true, force: true });
    await writeImagegenApp(root, set, count);
    await cp(path.join(source, "imagegen.lock.json"), path.join(root, "imagegen.lock.json"));
    const noRemote = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("IMAGEGEN_REMOTE") && !name.startsWith("AWS_")));
    const cold = [];
    const warm = [];
    const ratios = [];
    for (let run = 1; run <= runs; run++) {
      // A fresh CI machine: the checkout (app and lock) and nothing else; pull-request credentials.
      for (const dir of [".imagegen", "node_modules/.cache", "dist"]) await rm(path.join(root, dir), { recursive: true, force: true });
      const coldRun = await build(root, { ...noRemote, ...remoteEnv, IMAGEGEN_REMOTE_WRITE: "0" });
      if (coldRun.result.providerCalls !== 0) throw new Error("the cold CI build generated originals");
      // The same app on a developer's machine: its store and derived cache warm, no remote.
      await cp(path.join(source, ".imagegen"), path.join(root, ".imagegen"), { recursive: true });
      const warmRun = await build(root, noRemote);
      cold.push(coldRun.result.buildMs);
      warm.push(warmRun.result.buildMs);
      ratios.push(coldRun.result.buildMs / warmRun.result.buildMs);
      log(`  run ${run}: cold CI ${Math.round(coldRun.result.buildMs)} ms, warm local ${Math.round(warmRun.result.buildMs)} ms`);
    }
    return { cold, warm, ratios, objects };
  } finally {
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * Uploads every original of the app's store, every rendition of its derived cache, and the build
 * pack of its lockfile (all those renditions in one object), as a main-branch build would have.
 */
async function fillRemote(source, env) {
  const remote = new RemoteStore({ url: env.IMAGEGEN_REMOTE, write: true, attempts: 4, timeoutMs: 60_000, retryDelayMs: 200, env });
  const store = new Store(path.join(source, ".imagegen"));
  const cache = new DerivedCache(path.join(source, "node_modules/.cache/imagegen"));
  let bytes = 0;
  const keys = await store.keys();
  for (const key of keys) {
    const meta = await store.readMeta(key);
    const original = await store.readOriginal(meta);
    await remote.putOriginal(meta, original);
    bytes += original.length;
  }
  await mkdir(cache.dir, { recursive: true });
  // Renditions only: `<32 hex>.json` (encoder.json and project-files.json sit beside them).
  const entries = (await readdir(cache.dir)).filter((name) => /^[0-9a-f]{32}\.json$/.test(name));
  const pack = new Map();
  for (const name of entries) {
    const key = name.slice(0, -".json".length);
    const rendition = await cache.get(key);
    if (!rendition) continue;
    await remote.putRendition(key, rendition);
    pack.set(key, rendition);
    bytes += rendition.variants.reduce((sum, variant) => sum + variant.bytes.length, 0);
  }
  await remote.putPack(packDigest(await readFile(path.join(source, "imagegen.lock.json"))), pack);
  return { originals: keys.length, renditions: entries.length, bytes };
}
