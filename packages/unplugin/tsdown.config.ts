import { defineConfig } from "tsdown";

// One flat dist/ whatever the folders of src/: the package's entry points (package.json "exports",
// the bin, the loaders Next is given by path) keep their names.
export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      vite: "src/bundlers/vite.ts",
      rollup: "src/bundlers/rollup.ts",
      rolldown: "src/bundlers/rolldown.ts",
      webpack: "src/bundlers/webpack.ts",
      rspack: "src/bundlers/rspack.ts",
      esbuild: "src/bundlers/esbuild.ts",
      nuxt: "src/frameworks/nuxt.ts",
      astro: "src/frameworks/astro.ts",
      next: "src/frameworks/next.ts",
      "next-manifest-loader": "src/frameworks/next-manifest-loader.ts",
      "next-gen-import-loader": "src/frameworks/next-gen-import-loader.ts",
      "next-gen-module-loader": "src/frameworks/next-gen-module-loader.ts",
      "next-variant-loader": "src/frameworks/next-variant-loader.ts",
      cli: "src/cli/bin.ts",
    },
    format: "esm",
    dts: true,
    platform: "node",
    target: "node20",
    deps: {
      // unplugin's Vite, Rollup and Rolldown adapters go into this dist, tree-shaken, with the
      // picomatch they filter ids with (see src/plugin/rollup-family.ts); every other import of
      // unplugin stays the package's own. Nothing else may be bundled (the source-map packages are
      // resolved for unplugin's webpack and esbuild transforms, and tree-shaken out).
      alwaysBundle: (id, importer) => id === "unplugin" && importer !== undefined && /[\\/]plugin[\\/]rollup-family\.ts$/.test(importer),
      onlyBundle: ["unplugin", "picomatch", /^@jridgewell\//],
    },
  },
  {
    // The review page's script, for the browser, beside the rest as dist/review-page.js: a classic
    // script (Chromium runs no module script from file://, where `imagegen report` is opened), with
    // its stylesheet copied beside it. The review server reads both from there.
    entry: { "review-page": "src/review/page/review-page.ts" },
    format: "iife",
    platform: "browser",
    target: "es2022",
    dts: false,
    outputOptions: { entryFileNames: "[name].js" },
    copy: [{ from: "src/review/page/review-page.css" }],
  },
]);
