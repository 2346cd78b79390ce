import type { ImagegenPluginOptions } from "../plugin/factory.js";
import { vitePlugin } from "../plugin/rollup-family.js";

/** What the integration uses of Astro's `astro:config:setup` hook. */
interface AstroSetupLike {
  updateConfig(config: { vite: { plugins: unknown[] } }): unknown;
}

/**
 * The Astro integration: `integrations: [imagegen()]` adds the Vite plugin to Astro's builds, so
 * `.astro` pages and islands import `gen:` images and manifests; the images go beside Astro's own
 * hashed assets (`_astro/`), in static and server (`@astrojs/node`) output alike.
 */
export default function imagegenAstro(options: ImagegenPluginOptions = {}) {
  return {
    name: "unplugin-imagegen",
    hooks: {
      "astro:config:setup": ({ updateConfig }: AstroSetupLike) => {
        updateConfig({ vite: { plugins: [vitePlugin(options)] } });
      },
    },
  };
}
