import { defineConfig } from "unplugin-imagegen";

// At the project root, beside nuxt.config.ts: the build and the CLI both read it.
export default defineConfig({
  // No `sources`: the default already scans app/ (a list of globs would replace it, not add to it).
  defaults: { format: ["avif", "webp"] },
});
