import { defineConfig } from "tsdown";

export default defineConfig({
  // The render process's entry beside the index (render/render-process.ts finds it as ./render-worker.mjs).
  entry: { index: "src/index.ts", "render-worker": "src/render/render-worker.ts" },
  format: "esm",
  dts: true,
  platform: "node",
  target: "node20",
});
