// The Vite apps the bench builds. Each shows the same thing (a JSON dump of every image's
// src, srcset and size) so that the builds differ only in where the images come from.
import { copyFile, link, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fixturePrompt } from "./fixture-provider.mjs";

/** What both sides make of every original in the vs-imagetools and warm comparisons. */
export const OUTPUT_2K = { w: "640;1280", format: "avif;webp" };
/** The peak-memory build: 4K originals into large widths. */
export const OUTPUT_4K = { w: "1280;2560", format: "avif;webp" };

const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>bench</title></head>
<body><div id="app"></div><script type="module" src="/src/main.js"></script></body></html>
`;

/** `gen:` id of fixture `index` of a set, with the output parameters of that set. */
export function genId(set, index) {
  const { w, format } = set === "4k" ? OUTPUT_4K : OUTPUT_2K;
  return `gen:${fixturePrompt(set, index)}?size=${set === "4k" ? "4K" : "2K"}&w=${w}&format=${format}`;
}

/** An app of `count` `gen:` imports; its store and derived cache live inside it. */
export async function writeImagegenApp(root, set, count) {
  const imports = [];
  const names = [];
  for (let i = 0; i < count; i++) {
    imports.push(`import * as i${i} from ${JSON.stringify(genId(set, i))};`);
    names.push(`i${i}`);
  }
  await writeApp(root, [
    ...imports,
    `const images = [${names.join(", ")}].map((i) => ({ src: i.src, width: i.width, height: i.height, sources: i.sources }));`,
    `document.querySelector("#app").textContent = JSON.stringify(images);`,
  ]);
}

/** The same originals as plain files, transformed by vite-imagetools directives. */
export async function writeImagetoolsApp(root, fixtureFiles) {
  const imgDir = path.join(root, "src", "img");
  await mkdir(imgDir, { recursive: true });
  const imports = [];
  const names = [];
  for (const [i, file] of fixtureFiles.entries()) {
    const name = `${String(i).padStart(2, "0")}.png`;
    await linkOrCopy(file, path.join(imgDir, name));
    imports.push(`import i${i} from "./img/${name}?w=${OUTPUT_2K.w}&format=${OUTPUT_2K.format}&as=picture";`);
    names.push(`i${i}`);
  }
  await writeApp(root, [
    ...imports,
    `const images = [${names.join(", ")}].map((i) => ({ src: i.img.src, width: i.img.w, height: i.img.h, sources: i.sources }));`,
    `document.querySelector("#app").textContent = JSON.stringify(images);`,
  ]);
}

/**
 * The final image files of a built imagegen app, imported as plain static assets: what the
 * imagegen build emits, with no plugin in between. `images[i]` lists fixture i's files.
 */
export async function writeStaticApp(root, images) {
  const staticDir = path.join(root, "src", "static");
  await mkdir(staticDir, { recursive: true });
  const imports = [];
  const objects = [];
  for (const [i, variants] of images.entries()) {
    const sources = {};
    for (const variant of variants) {
      const name = `${String(i).padStart(2, "0")}-${variant.width}.${variant.extension}`;
      await linkOrCopy(variant.file, path.join(staticDir, name));
      const binding = `i${i}_${variant.width}_${variant.extension}`;
      imports.push(`import ${binding} from "./static/${name}";`);
      (sources[variant.format] ??= []).push(`${binding} + " ${variant.width}w"`);
    }
    const fallbackFormat = variants.at(-1).format;
    const largest = variants.filter((v) => v.format === fallbackFormat).at(-1);
    const src = `i${i}_${largest.width}_${largest.extension}`;
    const sourceCode = Object.entries(sources).map(([format, list]) => `${format}: ${list.join(' + ", " + ')}`);
    objects.push(`{ src: ${src}, width: ${largest.width}, height: ${largest.height}, sources: { ${sourceCode.join(", ")} } }`);
  }
  await writeApp(root, [...imports, `const images = [\n${objects.join(",\n")}\n];`, `document.querySelector("#app").textContent = JSON.stringify(images);`]);
}

export async function writeApp(root, mainLines) {
  await mkdir(path.join(root, "src"), { recursive: true });
  await writeFile(path.join(root, "index.html"), INDEX_HTML);
  await writeFile(path.join(root, "src", "main.js"), `${mainLines.join("\n")}\n`);
}

/** Image files below `dir`, recursively. */
export async function imageFiles(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile() && /\.(avif|webp|jpg|png)$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

export async function resetDir(dir) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

export async function linkOrCopy(from, to) {
  await rm(to, { force: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/** Shows every image as a `<picture>`, as a page would, so that the browser loads one variant of each. */
const PICTURES = [
  `const picture = (image) => \`<picture>\${Object.entries(image.sources).map(([format, srcset]) => \`<source type="image/\${format}" srcset="\${srcset}" sizes="\${image.width / 2}px">\`).join("")}<img src="\${image.src}" width="\${image.width / 2}" height="\${image.height / 2}"></picture>\`;`,
  `document.querySelector("#app").innerHTML = images.map(picture).join("");`,
];

/** The dev-server app of imagegen: `count` `gen:` imports shown as pictures. */
export async function writeImagegenDevApp(root, set, count) {
  const imports = [];
  for (let i = 0; i < count; i++) imports.push(`import * as i${i} from ${JSON.stringify(genId(set, i))};`);
  const names = imports.map((_, i) => `i${i}`);
  await writeApp(root, [...imports, `const images = [${names.join(", ")}];`, ...PICTURES]);
}

/** The same pictures from vite-imagetools' `as=picture`. */
export async function writeImagetoolsDevApp(root, fixtureFiles) {
  await writeImagetoolsApp(root, fixtureFiles);
  const main = path.join(root, "src", "main.js");
  const imports = fixtureFiles.map((_, i) => `import i${i} from "./img/${String(i).padStart(2, "0")}.png?w=${OUTPUT_2K.w}&format=${OUTPUT_2K.format}&as=picture";`);
  const names = imports.map((_, i) => `i${i}`);
  const images = `const images = [${names.join(", ")}].map((i) => ({ src: i.img.src, width: i.img.w, height: i.img.h, sources: i.sources }));`;
  await writeFile(main, `${[...imports, images, ...PICTURES].join("\n")}\n`);
}
