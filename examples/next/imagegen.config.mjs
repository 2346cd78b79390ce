import { defineConfig } from "unplugin-imagegen";

// At the project root, beside next.config.mjs: the build and the CLI both read it.
export default defineConfig({
  // Next's sources live in app/.
  sources: ["app/**/*.{js,jsx,ts,tsx}"],
});
