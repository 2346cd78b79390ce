import { defineConfig } from "unplugin-imagegen";

// At the project root, beside next.config.mjs: the build and the CLI both read it. No `sources`:
// the default already scans app/ (a list of globs would replace it, not add to it).
export default defineConfig({});
