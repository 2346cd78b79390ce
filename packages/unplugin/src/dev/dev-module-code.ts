import type { PlannedVariant } from "@imagegen/core";
import { GEN_EXPORTS, type ModuleImage, type VariantUrl, imageObjectCode, manifestModuleCode } from "../module/module-code.js";
import { HMR_HELPER_ID } from "./hmr-client.js";

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
