import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ImagegenPluginOptions } from "../plugin/factory.js";
import { createImagegenUnplugin } from "../plugin/unplugin.js";
import { MODULE_GLOB, VARIANT_GLOB } from "./next-image-request.js";
import { type TurbopackLoaderOptions, toLoaderOptions } from "./next-loaders.js";

/** What `withImagegen` reads of the context Next passes to `webpack(config, context)`. */
interface NextWebpackContext {
  dir: string;
  dev: boolean;
  isServer: boolean;
  config: { distDir?: string; assetPrefix?: string; basePath?: string };
}

interface WebpackConfigLike {
  output?: { path?: string };
  plugins?: unknown[];
}

/** The part of a Next config that `withImagegen` adds to. */
export interface NextConfigLike {
  webpack?: ((config: any, context: any) => any) | null;
  turbopack?: { rules?: Record<string, unknown>; [key: string]: unknown };
  [key: string]: unknown;
}

export type { TurbopackImagegenOptions } from "./next-loaders.js";

/** The app's script files: those that mention `gen:` go through the gen-import loader. */
const SCRIPT_GLOB = "*.{js,jsx,mjs,cjs,ts,tsx,mts,cts}";

/**
 * `export default withImagegen(nextConfig)`. With Turbopack (`next build`, `next dev`), `gen:`
 * imports and `*.prompts.yaml` manifests become modules whose variants are imported from files of
 * `unplugin-imagegen/next-image/` with a query; their loaders give the bytes, and Next hashes them
 * into `/_next/static/media/` and serves them. With webpack (`--webpack`) every image goes where
 * Next puts imported images, `.next/static/media/`; server compilations write into the client's
 * folder and name every file alike. Loading the config writes nothing (`next start` may run on a
 * read-only disk).
 */
export function withImagegen<T extends NextConfigLike>(nextConfig: T = {} as T, options: ImagegenPluginOptions = {}): T {
  const userWebpack = nextConfig.webpack;
  // A key given here reaches Turbopack's loader processes (children of this one) by the
  // environment, never through the config, which Next writes into its build output.
  if (options.apiKey && !process.env.ONEMIN_API_KEY) process.env.ONEMIN_API_KEY = options.apiKey;
  const imagegen = toLoaderOptions(options);
  // One name per loaded config, so that maxGenerations is checked once per build (loaders.ts).
  const build = randomUUID();
  const loaderOptions: TurbopackLoaderOptions = { imagegen, build, ...(options.generationDelayMs !== undefined && { generationDelayMs: options.generationDelayMs }) };
  const loader = (file: string, withOptions = true) => ({ loader: loaderPath(file), options: withOptions ? loaderOptions : {} });

  const rules: Record<string, unknown> = {
    // Only files that mention `gen:` reach a loader: Turbopack checks the content itself.
    [SCRIPT_GLOB]: { condition: { all: [{ not: "foreign" }, { content: /["'`]gen:/ }] }, loaders: [loader("next-gen-import-loader.mjs", false)] },
    "*.prompts.yaml": { loaders: [loader("next-manifest-loader.mjs")], as: "*.js" },
    "*.prompts.yml": { loaders: [loader("next-manifest-loader.mjs")], as: "*.js" },
    [MODULE_GLOB]: { loaders: [loader("next-gen-module-loader.mjs")] },
    // `asset`: the import is the URL of the bytes, which Next neither decodes nor resizes.
    [VARIANT_GLOB]: { loaders: [loader("next-variant-loader.mjs")], type: "asset" },
    ...nextConfig.turbopack?.rules,
  };

  return {
    ...nextConfig,
    turbopack: { ...nextConfig.turbopack, rules },
    webpack(config: WebpackConfigLike, context: NextWebpackContext) {
      const distDir = path.resolve(context.dir, context.config.distDir ?? ".next");
      const outputPath = config.output?.path ?? distDir;
      // A server compilation writes beside the client's files, as Next's own image loader does.
      const emitPrefix = context.isServer ? `${path.relative(outputPath, distDir).split(path.sep).join("/")}/` : "";
      const prefix = (context.config.assetPrefix || context.config.basePath || "").replace(/\/+$/, "");
      const plugin = createImagegenUnplugin({ assetsDir: "static/media", emitPrefix, publicPath: `${prefix}/_next/`, build, dev: context.dev });
      (config.plugins ??= []).push(plugin.webpack(options));
      return typeof userWebpack === "function" ? userWebpack(config, context) : config;
    },
  };
}

function loaderPath(file: string): string {
  return fileURLToPath(new URL(`./${file}`, import.meta.url));
}
