import { type ImagegenPluginOptions, unpluginImagegen } from "../plugin/factory.js";

/** What the module uses of Nuxt. */
interface NuxtLike {
  hook(name: "vite:extend", callback: (context: { config: { plugins?: unknown[] } }) => void): void;
  hook(name: "webpack:config", callback: (configs: { plugins?: unknown[] }[]) => void): void;
}

/**
 * The Nuxt module: `modules: ["unplugin-imagegen/nuxt"]` (or `[["unplugin-imagegen/nuxt", options]]`)
 * adds the plugin to Nuxt's Vite build (client and server alike) or to its webpack builder. The
 * project root is the folder of `nuxt.config.ts` (see `findProjectRoot`), not Nuxt's `app/`.
 */
export default function imagegenNuxtModule(options: ImagegenPluginOptions = {}, nuxt: NuxtLike): void {
  nuxt.hook("vite:extend", ({ config }) => {
    (config.plugins ??= []).push(unpluginImagegen.vite(options));
  });
  nuxt.hook("webpack:config", (configs) => {
    for (const config of configs) (config.plugins ??= []).push(unpluginImagegen.webpack(options));
  });
}

/** Nuxt reads a module's name from here (`imagegen` is its key in `nuxt.config.ts`). */
imagegenNuxtModule.getMeta = () => Promise.resolve({ name: "unplugin-imagegen", configKey: "imagegen" });
