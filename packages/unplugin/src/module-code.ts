import type { ImageResult, ImageSpec, Variant } from "@imagegen/core";

/** Returns a JavaScript expression that evaluates to the URL of an emitted variant. */
export type VariantUrl = (variant: Variant, spec: ImageSpec) => string;

/** The object of SPEC §2's named exports, as a JavaScript expression. */
export function imageObjectCode(result: ImageResult, url: VariantUrl): string {
  const { spec, rendition } = result;
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

/** A `gen:` module: the image's fields as named exports, `src` as the default export. */
export function genModuleCode(result: ImageResult, url: VariantUrl): string {
  return [
    `const image = ${imageObjectCode(result, url)};`,
    "export const { src, width, height, format, srcset, sources, alt, placeholder } = image;",
    "export default src;",
    "",
  ].join("\n");
}

/** A manifest module: one named export per image (camelCase), the default maps names to images. */
export function manifestModuleCode(
  images: { name: string; exportName: string; result: ImageResult }[],
  url: VariantUrl,
): string {
  const lines = images.map(({ exportName, result }) => `export const ${exportName} = ${imageObjectCode(result, url)};`);
  const entries = images.map(({ name, exportName }) => `  ${JSON.stringify(name)}: ${exportName},`);
  return [...lines, `export default {\n${entries.join("\n")}\n};`, ""].join("\n");
}
