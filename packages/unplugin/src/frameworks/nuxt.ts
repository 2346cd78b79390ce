import { CLIENT_TYPES } from "../module/client-types.js";
import type { ImagegenPluginOptions } from "../plugin/factory.js";
import { unpluginImagegen } from "../plugin/unplugin.js";

/** What the module uses of Nuxt. */
interface NuxtLike {
  hook(name: "vite:extend", callback: (context: { config: { plugins?: unknown[] } }) => void): void;
  hook(name: "webpack:config", callback: (configs: { plugins?: unknown[] }[]) => void): void;
  hook(name: "prepare:types", callback: (context: { references: ({ types: string } | { path: string })[] }) => void): void;
}

/**
 * The Nuxt module: `modules: ["unplugin-imagegen/nuxt"]` (or `[["unplugin-imagegen/nuxt", options]]`)
 * adds the plugin to Nuxt's Vite build (client and server alike) or to its webpack builder. The
 * project root is the folder of `nuxt.config.ts` (see `findProjectRoot`), not Nuxt's `app/`. The
 * declarations of `gen:` and manifest modules go into Nuxt's generated types, as Nuxt has a
 * module declare its own.
 */
export default function imagegenNuxtModule(options: ImagegenPluginOptions = {}, nuxt: NuxtLike): void {
  nuxt.hook("vite:extend", ({ config }) => {
    (config.plugins ??= []).push(unpluginImagegen.vite(options));
  });
  nuxt.hook("webpack:config", (configs) => {
    for (const config of configs) (config.plugins ??= []).push(unpluginImagegen.webpack(options));
  });
  nuxt.hook("prepare:types", ({ references }) => {
    references.push({ types: CLIENT_TYPES });
  });
}

/** Nuxt reads a module's name from here (`imagegen` is its key in `nuxt.config.ts`). */
imagegenNuxtModule.getMeta = () => Promise.resolve({ name: "unplugin-imagegen", configKey: "imagegen" });
