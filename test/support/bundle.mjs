// Builds a project with one bundler's own JavaScript API, as its CLI would, in a child process of
// the test: `node bundle.mjs <bundler> <project> [--watch]`. The project's `<bundler>.config.mjs`
// (or `.js`, `.cjs`) is the config a user writes; nothing here is imagegen-specific. Prints one
// line per build: RESULT_PREFIX and JSON, among whatever the bundler and the plugin log.
// In watch mode (webpack, rspack) it rebuilds on every change until stdin says "close".
import { access, copyFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const [bundler, project, flag] = process.argv.slice(2);
const watch = flag === "--watch";
const exists = (file) => access(file).then(() => true, () => false);
const configFiles = ["mjs", "js", "cjs"].map((extension) => path.join(project, `${bundler}.config.${extension}`));
const found = await Promise.all(configFiles.map(exists));
const configFile = configFiles[Math.max(0, found.indexOf(true))];
const config = (await import(pathToFileURL(configFile).href)).default;

const RESULT_PREFIX = "bundle-result ";

function report(result) {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** The fixture's page: bundlers that make no HTML of their own get its index.html beside the script. */
async function addPage(outDir) {
  const target = path.join(outDir, "index.html");
  if (await exists(target)) return;
  await copyFile(path.join(project, "index.html"), target).catch(() => {});
}

async function rollupLike(rollup) {
  const bundle = await rollup(config);
  try {
    await bundle.write(config.output);
  } finally {
    await bundle.close();
  }
  return config.output.dir;
}

const builders = {
  async vite() {
    const { build } = await import("vite");
    await build({ configFile });
    return path.join(project, "dist");
  },
  rollup: async () => rollupLike((await import("rollup")).rollup),
  rolldown: async () => rollupLike((await import("rolldown")).rolldown),
  async esbuild() {
    const esbuild = await import("esbuild");
    await esbuild.build({ logLevel: "silent", ...config });
    return path.resolve(config.absWorkingDir ?? project, config.outdir);
  },
  webpack: () => webpackLike(import("webpack")),
  rspack: () => webpackLike(import("@rspack/core").then((m) => m.rspack)),
};

function statsResult(stats) {
  const json = stats.toJson({ all: false, errors: true, assets: true, cachedAssets: true });
  return {
    errors: json.errors.map((e) => e.message),
    assets: json.assets.map((a) => a.name).sort(),
  };
}

async function webpackLike(load) {
  const mod = await load;
  const create = mod.default ?? mod;
  const compiler = create(config);
  if (!watch) {
    const stats = await new Promise((resolve, reject) => compiler.run((error, s) => (error ? reject(error) : resolve(s))));
    await new Promise((resolve) => compiler.close(resolve));
    const result = statsResult(stats);
    if (result.errors.length > 0) throw new Error(result.errors.join("\n"));
    // Without output.path, both write to dist/ in the folder they run in.
    return config.output?.path ?? path.join(project, "dist");
  }
  const watching = compiler.watch({ aggregateTimeout: 50 }, async (error, stats) => {
    if (error) return report({ ok: false, error: error.message });
    const result = statsResult(stats);
    report({ ok: result.errors.length === 0, ...result });
  });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "close") break;
  }
  await new Promise((resolve) => watching.close(resolve));
  await new Promise((resolve) => compiler.close(resolve));
  return undefined;
}

const started = performance.now();
try {
  const outDir = await builders[bundler]();
  if (outDir) await addPage(outDir);
  if (!watch) report({ ok: true, ms: Math.round(performance.now() - started), outDir });
} catch (error) {
  report({ ok: false, error: String(error?.message ?? error) });
  process.exitCode = 1;
}
