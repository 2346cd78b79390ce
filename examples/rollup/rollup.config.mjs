import { readFile } from "node:fs/promises";
import path from "node:path";
import imagegen from "unplugin-imagegen/rollup";

const root = import.meta.dirname;

/** Writes src/index.html with the entry chunk's script into the output. */
function htmlPage() {
  const template = path.join(root, "src/index.html");
  return {
    name: "html-page",
    buildStart() {
      this.addWatchFile(template);
    },
    async generateBundle(_options, bundle) {
      const entries = Object.values(bundle).filter((file) => file.type === "chunk" && file.isEntry);
      const tags = entries.map((chunk) => `<script type="module" src="${chunk.fileName}"></script>`);
      const html = (await readFile(template, "utf8")).replace("<!-- the bundle's script goes here -->", tags.join("\n    "));
      this.emitFile({ type: "asset", fileName: "index.html", source: html });
    },
  };
}

export default {
  input: path.join(root, "src/main.js"),
  output: { dir: path.join(root, "dist"), format: "es", entryFileNames: "[name]-[hash].js" },
  plugins: [imagegen(), htmlPage()],
};
