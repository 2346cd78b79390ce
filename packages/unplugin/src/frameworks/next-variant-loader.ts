import { ImagegenError, type PlannedVariant, planVariants } from "@imagegen/core";
import { standInSvg, standInVariants } from "../dev/stand-ins.js";
import { type ImageRequest, parseImageRequest } from "./next-image-request.js";
import { type TurbopackLoaderContext, loaderEngine, runLoader } from "./next-loaders.js";
import { specOf } from "./next-module-images.js";

/**
 * Turbopack, for `next-image/imagegen.<ext>?…&w=…&f=…` (an `asset` rule: Next hashes the bytes
 * into `/_next/static/media/` and the import is their URL): one variant of an image, from the
 * derived cache or encoded now, or its stand-in while `next dev` generates the original.
 */
export default function imagegenVariantLoader(this: TurbopackLoaderContext): void {
  runLoader(this, async () => {
    const request = parseImageRequest(this.resourceQuery);
    const engine = await loaderEngine(this);
    const spec = await specOf(this, engine, request.source);
    if (request.standIn) return Buffer.from(standInSvg(spec, pick(standInVariants(spec), request, spec.prompt)));
    // Stored by the module that imports this variant (a placeholder provider's original is made again, alike).
    const original = await engine.resolveOriginal(spec);
    const planned = pick(planVariants(original, spec.output), request, spec.prompt);
    return Buffer.from((await engine.variant(original, spec, planned)).bytes);
  });
}

function pick(planned: PlannedVariant[], { variant }: ImageRequest, prompt: string): PlannedVariant {
  const found = variant && planned.find((v) => v.width === variant.width && v.format === variant.format);
  if (!found) throw new ImagegenError(`"${prompt}" has no ${variant?.width}px ${variant?.format} variant any more; reload the page`);
  return found;
}
