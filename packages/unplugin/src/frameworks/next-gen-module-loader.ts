import { genModuleCode } from "../module/module-code.js";
import { parseImageRequest } from "./next-image-request.js";
import { type TurbopackLoaderContext, loaderEngine, runLoader } from "./next-loaders.js";
import { VariantImports, moduleImage, specOf } from "./next-module-images.js";

/**
 * Turbopack, for `next-image/imagegen.js?gen=…&from=…` (what a `gen:` import was rewritten into):
 * the `gen:` module, its variants imported as `next-image/` files that Next hashes and serves.
 */
export default function imagegenGenModuleLoader(this: TurbopackLoaderContext): void {
  runLoader(this, async () => {
    const { source } = parseImageRequest(this.resourceQuery);
    const engine = await loaderEngine(this);
    const imports = new VariantImports();
    const image = await moduleImage(this, engine, await specOf(this, engine, source), source, imports);
    return `${imports.code()}\n${genModuleCode(image, (variant) => variant.binding)}`;
  });
}
