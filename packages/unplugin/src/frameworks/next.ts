import { mkdirSync } from "node:fs";
import path from "node:path";
import { resolveProjectRoot } from "@imagegen/core";
import { fileURLToPath } from "node:url";
import { type ImagegenPluginOptions, createImagegenUnplugin } from "../plugin/factory.js";

/** What `withImagegen` reads of the context Next passes to `webpack(config, context)`. */
interface NextWebpackContext {
  dir: string;
  isServer: boolean;
  config: { distDir?: string; assetPrefix?: string; basePath?: string };
}

interface WebpackConfigLike {
  output?: { path?: string };
  plugins?: unknown[];
}

type TurbopackRule = Record<string, unknown>;

/** The part of a Next config that `withImagegen` adds to. */
export interface NextConfigLike {
  webpack?: ((config: any, context: any) => any) | null;
  turbopack?: { rules?: Record<string, unknown>; [key: string]: unknown };
  [key: string]: unknown;
}

/** Options Turbopack can pass to a loader: JSON only (a custom provider or logger cannot cross). */
export type TurbopackImagegenOptions = Omit<ImagegenPluginOptions, "provider" | "logger" | "dts"> & { provider?: "onemin" | "placeholder" };

const SCRIPT_GLOBS = ["*.js", "*.jsx", "*.mjs", "*.ts", "*.tsx", "*.mts"];

/**
 * `export default withImagegen(nextConfig)`. With webpack (`next build --webpack`) every image goes
 * where Next puts imported images, `.next/static/media/`, served at `/_next/static/media/` (after
 * `assetPrefix`); server compilations write into the client's folder and name every file alike.
 * With Turbopack, `*.prompts.yaml` manifests are rendered by a loader that returns JavaScript
 * importing the files, which Next then hashes and serves itself; a `gen:` import fails the build
 * with one line that says so (Turbopack has no hook for a `gen:` scheme).
 */
export function withImagegen<T extends NextConfigLike>(nextConfig: T = {} as T, options: ImagegenPluginOptions = {}): T {
  const userWebpack = nextConfig.webpack;
  // Turbopack sees no folder made during its build: the manifest loader's folder is made now.
  mkdirSync(turbopackImagesDir(resolveProjectRoot(options.root)), { recursive: true });
  const rules: Record<string, unknown> = { ...nextConfig.turbopack?.rules };
  const loaderOptions = jsonOptions(options);
  for (const glob of ["*.prompts.yaml", "*.prompts.yml"]) {
    rules[glob] ??= { loaders: [{ loader: loaderPath("next-manifest-loader.mjs"), options: loaderOptions }], as: "*.js" };
  }
  const genImportRule: TurbopackRule = {
    condition: { all: [{ not: "foreign" }, { content: /["'`]gen:/ }] },
    loaders: [loaderPath("next-gen-import-loader.mjs")],
  };
  for (const glob of SCRIPT_GLOBS) rules[glob] ??= genImportRule;

  return {
    ...nextConfig,
    turbopack: { ...nextConfig.turbopack, rules },
    webpack(config: WebpackConfigLike, context: NextWebpackContext) {
      const distDir = path.resolve(context.dir, context.config.distDir ?? ".next");
      const outputPath = config.output?.path ?? distDir;
      // A server compilation writes beside the client's files, as Next's own image loader does.
      const emitPrefix = context.isServer ? `${path.relative(outputPath, distDir).split(path.sep).join("/")}/` : "";
      const prefix = (context.config.assetPrefix || context.config.basePath || "").replace(/\/+$/, "");
      const plugin = createImagegenUnplugin({ assetsDir: "static/media", emitPrefix, publicPath: `${prefix}/_next/` });
      (config.plugins ??= []).push(plugin.webpack(options));
      return typeof userWebpack === "function" ? userWebpack(config, context) : config;
    },
  };
}

/** Where the Turbopack manifest loader writes the files it imports (a cache: safe to delete). */
export function turbopackImagesDir(root: string): string {
  return path.join(root, "node_modules", ".cache", "imagegen", "next");
}

function loaderPath(file: string): string {
  return fileURLToPath(new URL(`./${file}`, import.meta.url));
}

/** The options a Turbopack loader can be given; the rest comes from `imagegen.config.ts`. */
function jsonOptions(options: ImagegenPluginOptions): TurbopackImagegenOptions {
  const { provider, logger: _logger, dts: _dts, generationDelayMs: _delay, ...rest } = options;
  return JSON.parse(JSON.stringify({ ...rest, ...(typeof provider === "string" && { provider }) })) as TurbopackImagegenOptions;
}
