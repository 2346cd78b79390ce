// unplugin's Vite, Rollup and Rolldown adapters, bundled into this package's dist (tsdown.config.ts):
// importing unplugin itself loads its webpack, rspack and esbuild code and the source-map remapper
// they use, 7 modules that cost every `vite build` process about 7 ms, against 4 ms for these alone.
import { type UnpluginInstance, createRolldownPlugin, createRollupPlugin, createVitePlugin } from "unplugin";
import { type ImagegenPluginOptions, imagegenFactory } from "./factory.js";

type Instance = UnpluginInstance<ImagegenPluginOptions | undefined>;

/** The Vite plugin: `unpluginImagegen.vite`, without loading the other bundlers' adapters. */
export const vitePlugin: Instance["vite"] = createVitePlugin(imagegenFactory());
/** The Rollup plugin: `unpluginImagegen.rollup`. */
export const rollupPlugin: Instance["rollup"] = createRollupPlugin(imagegenFactory());
/** The Rolldown plugin: `unpluginImagegen.rolldown`. */
export const rolldownPlugin: Instance["rolldown"] = createRolldownPlugin(imagegenFactory());
