import { defineConfig } from "unplugin-imagegen";

export default defineConfig({
  defaults: {
    size: "1K",
    format: ["avif", "webp"],
  },
  styles: {
    watercolor: "loose watercolor on textured paper, soft edges, muted palette",
  },
  concurrency: 4,
});
