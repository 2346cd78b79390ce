// What Next's Turbopack loaders share: the loader context they use, one engine per project root in
// a loader process, the options that cross from next.config as JSON, and how errors are reported.
import path from "node:path";
import {
  Engine,
  ImagegenError,
  aiSdkModelName,
  isAiSdkImageModel,
  type ResolvedOptions,
  checkSpendLimits,
  hasSpendLimits,
  resolveOptions,
  resolveProjectRoot,
  withFileLock,
  writeFileAtomic,
} from "@imagegen/core";
import { readFile, readdir, rm, stat } from "node:fs/promises";
import type { ImagegenPluginOptions } from "../plugin/factory.js";

/** What the loaders use of the context Turbopack gives a webpack loader. */
export interface TurbopackLoaderContext {
  resourcePath: string;
  resourceQuery: string;
  rootContext?: string;
  mode?: "development" | "production";
  getOptions(): TurbopackLoaderOptions;
  async(): (error: Error | null, result?: string | Buffer, map?: string) => void;
  addDependency(file: string): void;
}

/** Options Turbopack can pass to a loader: JSON only (a custom provider, a logger or Infinity cannot cross). */
export type TurbopackImagegenOptions = Omit<ImagegenPluginOptions, "provider" | "logger" | "dts" | "apiKey" | "maxGenerations" | "maxCost" | "generationDelayMs"> & {
  provider?: "onemin" | "placeholder";
  /** The name of a provider object (an AI SDK model, a custom provider) given to `withImagegen`, which stayed behind. */
  providerLeftBehind?: string;
  /** A number, or `"Infinity"`: JSON has no Infinity. */
  maxGenerations?: number | "Infinity";
  maxCost?: number | "Infinity";
};

/** What `withImagegen` gives every loader that resolves images. */
export interface TurbopackLoaderOptions {
  imagegen: TurbopackImagegenOptions;
  /** Names this `next build` or `next dev` (made when the config is loaded): its loaders check maxGenerations once. */
  build: string;
  /** `next dev`: the plugin's `generationDelayMs`. */
  generationDelayMs?: number;
}

/** The options of `withImagegen`, made JSON for Turbopack's loaders. */
export function toLoaderOptions(options: ImagegenPluginOptions): TurbopackImagegenOptions {
  const { provider, logger: _logger, dts: _dts, apiKey: _apiKey, maxGenerations, maxCost, generationDelayMs: _delay, ...rest } = options;
  return JSON.parse(
    JSON.stringify({
      ...rest,
      ...(typeof provider === "string" && { provider }),
      ...(typeof provider === "object" && { providerLeftBehind: isAiSdkImageModel(provider) ? aiSdkModelName(provider) : provider.id }),
      ...(maxGenerations !== undefined && { maxGenerations: maxGenerations === Infinity ? "Infinity" : maxGenerations }),
      ...(maxCost !== undefined && { maxCost: maxCost === Infinity ? "Infinity" : maxCost }),
    }),
  ) as TurbopackImagegenOptions;
}

function fromLoaderOptions(options: TurbopackImagegenOptions): ImagegenPluginOptions {
  const { maxGenerations, maxCost, providerLeftBehind: _left, ...rest } = options;
  return {
    ...rest,
    ...(maxGenerations !== undefined && { maxGenerations: maxGenerations === "Infinity" ? Infinity : maxGenerations }),
    ...(maxCost !== undefined && { maxCost: maxCost === "Infinity" ? Infinity : maxCost }),
  };
}

/** One engine per project root in a loader process: the modules of one build share its store and lock. */
const engines = new Map<string, Promise<Engine>>();

/**
 * The engine of the loader's project, its root found from Next's project folder as the bundler
 * plugin finds it (Turbopack runs loaders there, also for `next build apps/web`). The module
 * depends on the lockfile: a generation elsewhere (the dev server's background) loads it again.
 */
export async function loaderEngine(loader: TurbopackLoaderContext): Promise<Engine> {
  const { imagegen = {}, build } = loader.getOptions() ?? {};
  const options = fromLoaderOptions(imagegen);
  const root = resolveProjectRoot(options.root, loader.rootContext ?? path.dirname(loader.resourcePath));
  let engine = engines.get(root);
  if (!engine) {
    engine = resolveOptions({ ...options, root }).then(async (resolved) => {
      const left = imagegen.providerLeftBehind;
      if (left !== undefined && resolved.provider.id !== left) {
        throw new ImagegenError(
          `withImagegen(nextConfig, { provider }) gave ${left}, an object that cannot reach Turbopack's loader (its options are JSON): ` +
            "set provider in imagegen.config.ts, which the loader reads, or build with `next build --webpack`.",
        );
      }
      if (build) await checkOncePerBuild(resolved, build);
      return new Engine(resolved);
    });
    engines.set(root, engine);
    engine.catch(() => engines.delete(root));
  }
  const ready = await engine;
  loader.addDependency(ready.options.lockfilePath);
  return ready;
}

/**
 * maxGenerations and maxCost refuse a build that would pay for too much before it pays for anything: the
 * project is scanned once per build, by the first of Turbopack's loader processes; the others
 * read its verdict.
 */
async function checkOncePerBuild(options: ResolvedOptions, build: string): Promise<void> {
  if (!hasSpendLimits(options)) return;
  const verdict = path.join(options.cacheDir, "next-builds", `${build}.json`);
  const refusal = await withFileLock(`${verdict}.lock`, async () => {
    const earlier = await readFile(verdict, "utf8").then((text) => JSON.parse(text) as { refusal: string | null }, () => undefined);
    if (earlier) return earlier.refusal;
    const found = await checkSpendLimits(options).then(
      () => null,
      (error: unknown) => {
        if (error instanceof ImagegenError) return error.message;
        throw error;
      },
    );
    await writeFileAtomic(verdict, JSON.stringify({ refusal: found }));
    await removeOldVerdicts(path.dirname(verdict));
    return found;
  });
  if (refusal !== null) throw new ImagegenError(refusal);
}

/** Verdicts of builds a day old are done with. */
async function removeOldVerdicts(dir: string): Promise<void> {
  const old = Date.now() - 24 * 60 * 60_000;
  for (const name of await readdir(dir).catch(() => [])) {
    const file = path.join(dir, name);
    const modified = (await stat(file).catch(() => undefined))?.mtimeMs ?? Infinity;
    if (modified < old) await rm(file, { force: true });
  }
}

/** Runs a loader's work: its result, or its error (a user's mistake by its message alone, no stack). */
export function runLoader(loader: TurbopackLoaderContext, work: () => Promise<string | Buffer | [string, string]>): void {
  const callback = loader.async();
  work().then(
    (result) => (Array.isArray(result) ? callback(null, result[0], result[1]) : callback(null, result)),
    (error: unknown) => callback(error instanceof ImagegenError ? userError(error) : (error as Error)),
  );
}

function userError(error: ImagegenError): Error {
  const plain = new Error(error.message);
  plain.stack = error.message;
  return plain;
}
