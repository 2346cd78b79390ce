// What a page shows while an original is generated: pictures of the prompt at the final pixel sizes.
import { type ImageSpec, type PlannedVariant, SIZE_PIXELS, placeholderSvg, planVariants } from "@imagegen/core";

/** The stand-ins' variants: the final pixel sizes (the API makes square images of the asked size). */
export function standInVariants(spec: ImageSpec): PlannedVariant[] {
  const pixels = SIZE_PIXELS[spec.generation.size];
  return planVariants({ width: pixels, height: pixels }, spec.output);
}

/** A stand-in's picture: the prompt and "generating…", at the variant's pixel size. */
export function standInSvg(spec: ImageSpec, planned: PlannedVariant): string {
  return placeholderSvg(spec.generation, planned, "generating…");
}
