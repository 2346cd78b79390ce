import { parseManifest } from "@imagegen/core";
import { manifestModuleCode } from "../module/module-code.js";
import { type TurbopackLoaderContext, loaderEngine, runLoader } from "./next-loaders.js";
import { VariantImports, imageSpec, moduleImage } from "./next-module-images.js";

/**
 * Turbopack, for `*.prompts.yaml`: the manifest's module, each variant imported as a
 * `next-image/` file that Next hashes into `/_next/static/media/` and serves.
 */
export default function imagegenManifestLoader(this: TurbopackLoaderContext, text: string): void {
  runLoader(this, async () => {
    const file = this.resourcePath;
    const engine = await loaderEngine(this);
    const imports = new VariantImports();
    const images = await Promise.all(
      parseManifest(text, file).images.map(async ({ name, exportName, options, location }) => {
        const spec = await imageSpec(this, engine, options, location);
        return { name, exportName, image: await moduleImage(this, engine, spec, { kind: "manifest", file, name }, imports) };
      }),
    );
    return `${imports.code()}\n${manifestModuleCode(images, (variant) => variant.binding)}`;
  });
}
