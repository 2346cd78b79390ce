import { readFile } from "node:fs/promises";
import path from "node:path";
import imagegen from "unplugin-imagegen/webpack";

const root = import.meta.dirname;
const template = path.join(root, "src/index.html");

/** Writes src/index.html with the bundle's script into the output (html-webpack-plugin's job, in ten lines). */
class HtmlPage {
  apply(compiler) {
    const { Compilation, sources } = compiler.webpack;
    compiler.hooks.thisCompilation.tap("HtmlPage", (compilation) => {
      compilation.fileDependencies.add(template);
      compilation.hooks.processAssets.tapPromise({ name: "HtmlPage", stage: Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL }, async () => {
        const scripts = compilation.entrypoints.get("main").getFiles().filter((file) => file.endsWith(".js"));
        const tags = scripts.map((file) => `<script defer src="${compilation.outputOptions.publicPath === "auto" ? "" : compilation.outputOptions.publicPath}${file}"></script>`);
        const html = (await readFile(template, "utf8")).replace("<!-- the bundle's script goes here -->", tags.join("\n    "));
        compilation.emitAsset("index.html", new sources.RawSource(html));
      });
    });
  }
}

export default {
  mode: "production",
  context: root,
  entry: { main: "./src/main.js" },
  output: {
    path: path.join(root, "dist"),
    filename: "[name].[contenthash:8].js",
    clean: true,
  },
  plugins: [imagegen(), new HtmlPage()],
};
