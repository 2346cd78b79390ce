import type { ImageSpec, PlannedVariant } from "@imagegen/core";

/** What a module shows of one image: its spec, and the variants and placeholder of its rendition. */
export interface ModuleImage<V extends PlannedVariant = PlannedVariant> {
  spec: ImageSpec;
  rendition: { variants: V[]; placeholder: string | undefined };
}

/** Returns a JavaScript expression that evaluates to the URL of an emitted variant. */
export type VariantUrl<V extends PlannedVariant = PlannedVariant> = (variant: V, spec: ImageSpec) => string;

/** The id dev modules import their HMR helper from (resolved by the plugin). */
export const HMR_HELPER_ID = "virtual:imagegen/hmr";

/** The object of SPEC §2's named exports, as a JavaScript expression. */
export function imageObjectCode<V extends PlannedVariant>(image: ModuleImage<V>, url: VariantUrl<V>): string {
  const { spec, rendition } = image;
  const formats = spec.output.formats;
  const fallbackFormat = formats.at(-1)!;
  const fallbackVariants = rendition.variants.filter((v) => v.format === fallbackFormat);
  const largest = fallbackVariants.at(-1)!;

  const srcsets = new Map(
    formats.map((format) => {
      const variants = rendition.variants.filter((v) => v.format === format);
      return [format, variants.map((v) => `${url(v, spec)} + ${JSON.stringify(` ${v.width}w`)}`).join(' + ", " + ')];
    }),
  );
  const sources = [...srcsets].map(([format, srcset]) => `${JSON.stringify(format)}: ${srcset}`);

  return [
    "{",
    `  src: ${url(largest, spec)},`,
    `  width: ${largest.width},`,
    `  height: ${largest.height},`,
    `  format: ${JSON.stringify(fallbackFormat)},`,
    `  sources: { ${sources.join(", ")} },`,
    `  srcset: ${srcsets.get(fallbackFormat)},`,
    `  alt: ${JSON.stringify(spec.alt)},`,
    `  placeholder: ${rendition.placeholder === undefined ? "undefined" : JSON.stringify(rendition.placeholder)},`,
    "}",
  ].join("\n");
}

const GEN_EXPORTS = "src, width, height, format, srcset, sources, alt, placeholder";

/** A `gen:` module: the image's fields as named exports, `src` as the default export. */
export function genModuleCode<V extends PlannedVariant>(image: ModuleImage<V>, url: VariantUrl<V>): string {
  return [
    `const image = ${imageObjectCode(image, url)};`,
    `export const { ${GEN_EXPORTS} } = image;`,
    "export default src;",
    "",
  ].join("\n");
}

/** A manifest module: one named export per image (camelCase), the default maps names to images. */
export function manifestModuleCode<V extends PlannedVariant>(
  images: { name: string; exportName: string; image: ModuleImage<V> }[],
  url: VariantUrl<V>,
  /** What introduces the table of every image: the default export, or a binding the caller exports. */
  table = "export default",
): string {
  const lines = images.map(({ exportName, image }) => `export const ${exportName} = ${imageObjectCode(image, url)};`);
  const entries = images.map(({ name, exportName }) => `  ${JSON.stringify(name)}: ${exportName},`);
  return [...lines, `${table} {\n${entries.join("\n")}\n};`, ""].join("\n");
}

/**
 * A dev `gen:` module that accepts its own updates: the page's `<img>` and `<source>` elements
 * swap to the new URLs, and the exports (live bindings) take the new values for later renders.
 */
export function devGenModuleCode<V extends PlannedVariant>(image: ModuleImage<V>, url: VariantUrl<V>): string {
  return [
    `import { replaceImages } from ${JSON.stringify(HMR_HELPER_ID)};`,
    `const image = ${imageObjectCode(image, url)};`,
    `export let { ${GEN_EXPORTS} } = image;`,
    "export { src as default };",
    "if (import.meta.hot) {",
    "  import.meta.hot.accept((next) => {",
    "    if (!next) return;",
    "    replaceImages({ src, srcset, sources }, next);",
    `    ({ ${GEN_EXPORTS} } = next);`,
    "  });",
    "}",
    "",
  ].join("\n");
}

/**
 * A dev manifest module that accepts its own updates while its names stay the same: each image
 * object is updated in place and the page's elements swap URLs. New or removed names re-run the
 * importers (a full reload where none accepts).
 */
export function devManifestModuleCode<V extends PlannedVariant>(
  images: { name: string; exportName: string; image: ModuleImage<V> }[],
  url: VariantUrl<V>,
): string {
  return [
    // Names a manifest's camelCase exports cannot take.
    `import { replaceImages as __imagegenReplace } from ${JSON.stringify(HMR_HELPER_ID)};`,
    // Not a text replacement of "export default {": a prompt (an image's alt) may hold those words.
    manifestModuleCode(images, url, "const __imagegenImages ="),
    "export default __imagegenImages;",
    "if (import.meta.hot) {",
    "  import.meta.hot.accept((next) => {",
    "    if (!next) return;",
    "    const names = Object.keys(__imagegenImages);",
    '    if (names.join("\\n") !== Object.keys(next.default).join("\\n")) return import.meta.hot.invalidate();',
    "    for (const name of names) {",
    "      __imagegenReplace(__imagegenImages[name], next.default[name]);",
    "      Object.assign(__imagegenImages[name], next.default[name]);",
    "    }",
    "  });",
    "}",
    "",
  ].join("\n");
}

/** The HMR helper's code: swaps an image's URLs in every `<img>` and `<source>` of the page. */
export const HMR_HELPER_CODE = `
function entries(srcset) {
  return (srcset || "").split(", ").filter(Boolean).map((part) => {
    const space = part.lastIndexOf(" ");
    return space < 0 ? [part, ""] : [part.slice(0, space), part.slice(space + 1)];
  });
}

export function replaceImages(before, after) {
  if (typeof document === "undefined" || !before || !after) return;
  const urls = new Map();
  const add = (from, to) => { if (from && to && from !== to) urls.set(from, to); };
  add(before.src, after.src);
  for (const [format, srcset] of Object.entries(before.sources || {})) {
    const next = entries((after.sources || {})[format] || after.srcset);
    entries(srcset).forEach(([from, descriptor], i) => {
      const match = next.find(([, d]) => d === descriptor) || next[Math.min(i, next.length - 1)];
      add(from, match ? match[0] : after.src);
    });
  }
  if (urls.size === 0) return;
  for (const element of document.querySelectorAll("img, source")) {
    const src = element.getAttribute("src");
    if (src && urls.has(src)) element.setAttribute("src", urls.get(src));
    const srcset = element.getAttribute("srcset");
    if (!srcset) continue;
    const replaced = srcset.split(",").map((part) => {
      const [url, ...rest] = part.trim().split(/\\s+/);
      return [urls.get(url) || url, ...rest].join(" ");
    }).join(", ");
    if (replaced !== srcset) element.setAttribute("srcset", replaced);
  }
  window.dispatchEvent(new CustomEvent("imagegen:update", { detail: { before, after } }));
}
`;
