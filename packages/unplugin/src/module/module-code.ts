// The code of the modules imagegen makes (SPEC §2, §3): a `gen:` module and a manifest module, from
// an image's spec and rendition. Imports nothing of this package: builds, dev and Next's loaders write with it.
import type { ImageSpec, PlannedVariant } from "@imagegen/core";

/** What a module shows of one image: its spec, and the variants and placeholder of its rendition. */
export interface ModuleImage<V extends PlannedVariant = PlannedVariant> {
  spec: ImageSpec;
  rendition: { variants: V[]; placeholder: string | undefined };
}

/** Returns a JavaScript expression that evaluates to the URL of an emitted variant. */
export type VariantUrl<V extends PlannedVariant = PlannedVariant> = (variant: V, spec: ImageSpec) => string;

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

/** The named exports of a `gen:` module (SPEC §2), in the order modules declare them. */
export const GEN_EXPORTS = "src, width, height, format, srcset, sources, alt, placeholder";

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
