import { defineConfig } from "unplugin-imagegen";

// At the project root, beside nuxt.config.ts: the build and the CLI both read it.
export default defineConfig({
  defaults: { format: ["avif", "webp"] },
  // Nuxt's sources live in app/.
  sources: ["app/**/*.{vue,ts,js}"],
});
