import { defineConfig } from "tsdown";

export default defineConfig({
  entry: [
    "src/index.ts",
    "src/vite.ts",
    "src/rollup.ts",
    "src/rolldown.ts",
    "src/webpack.ts",
    "src/rspack.ts",
    "src/esbuild.ts",
    "src/nuxt.ts",
    "src/astro.ts",
    "src/next.ts",
    "src/next-manifest-loader.ts",
    "src/next-gen-import-loader.ts",
    "src/cli.ts",
  ],
  format: "esm",
  dts: true,
  platform: "node",
  target: "node20",
});
