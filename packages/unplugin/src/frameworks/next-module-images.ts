// The images of a module Turbopack loads (a `gen:` module or a manifest): each variant is an
// import of a `next-image/` file, which Next hashes into `/_next/static/media/`. `next build`
// waits for every original; `next dev` answers at once with stand-ins while the original is made
// in the background, and the module is loaded again when the lockfile records it.
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import {
  type Engine,
  type ImageOptions,
  type ImageSpec,
  ImagegenError,
  type PlannedVariant,
  hashInputs,
  originalKey,
  parseGenId,
  parseManifest,
  planVariants,
  resolveSpec,
  type SourceLocation,
  writeFileAtomic,
} from "@imagegen/core";
import { DevServer } from "../dev/dev-server.js";
import { standInVariants } from "../dev/stand-ins.js";
import type { ModuleImage } from "../module/module-code.js";
import { type ImageSource, variantSpecifier } from "./next-image-request.js";
import type { TurbopackLoaderContext } from "./next-loaders.js";

/** A variant of a Turbopack module: its pixel size, and the name its URL is imported as. */
export interface ImportedVariant extends PlannedVariant {
  binding: string;
}

/** The imports a module's variants need, each named once. */
export class VariantImports {
  readonly #lines: string[] = [];

  add(specifier: string): string {
    // Names a manifest's camelCase exports cannot take.
    const binding = `__imagegenVariant${this.#lines.length}`;
    this.#lines.push(`import ${binding} from ${JSON.stringify(specifier)};`);
    return binding;
  }

  code(): string {
    return this.#lines.join("\n");
  }
}

/** The spec of an image, its manifest and input files (`edit`, `ref`) declared as the module's dependencies. */
export async function specOf(loader: TurbopackLoaderContext, engine: Engine, source: ImageSource): Promise<ImageSpec> {
  if (source.kind === "gen") {
    return imageSpec(loader, engine, parseGenId(source.id, source.importer), { file: source.importer, id: source.id });
  }
  loader.addDependency(source.file);
  const manifest = parseManifest(await readFile(source.file, "utf8"), source.file);
  const image = manifest.images.find((entry) => entry.name === source.name);
  if (!image) throw new ImagegenError(`${source.file} has no image named ${JSON.stringify(source.name)} any more; reload the page`);
  return imageSpec(loader, engine, image.options, image.location);
}

/** The spec of an image's options, its input files declared as the module's dependencies. */
export async function imageSpec(loader: TurbopackLoaderContext, engine: Engine, image: ImageOptions, location: SourceLocation): Promise<ImageSpec> {
  const spec = resolveSpec(image, { ...engine.options, source: location });
  for (const input of spec.generation.inputs ?? []) loader.addDependency(input.file);
  return hashInputs(spec, engine.options.root);
}

/** `next dev`'s images in this loader process: its queue of background generations. */
let dev: { server: DevServer; engine: Engine } | undefined;

/**
 * The image a module at `from` shows for `spec`: its variants as imports (added to `imports`),
 * or, in `next dev` while its original is generated, stand-ins of the final size.
 */
export async function moduleImage(
  loader: TurbopackLoaderContext,
  engine: Engine,
  spec: ImageSpec,
  source: ImageSource,
  imports: VariantImports,
): Promise<ModuleImage<ImportedVariant>> {
  const importVariants = (planned: PlannedVariant[], standIn: boolean) =>
    planned.map((variant) => ({ ...variant, binding: imports.add(variantSpecifier(loader.resourcePath, source, variant, standIn)) }));

  if (loader.mode === "development") {
    const failure = failureFile(engine, spec);
    loader.addDependency(failure);
    await reportFailure(failure, loader);
    // One module per image (a manifest's images are each their own), so that a module's wanted images are exactly its own.
    const [stored] = await devServer(engine, loader).originals([spec], `${loader.resourcePath}${loader.resourceQuery}#${originalKey(spec.generation)}`);
    if (!stored) return { spec, rendition: { variants: importVariants(standInVariants(spec), true), placeholder: undefined } };
  }
  const original = await engine.resolveOriginal(spec);
  const variants = importVariants(planVariants(original, spec.output), false);
  return { spec, rendition: { variants, placeholder: await engine.placeholder(original, spec) } };
}

/**
 * The dev server of this loader process. Turbopack loads a module again when the lockfile records
 * its original (the loaders depend on it), so the host reloads nothing itself; a failure is
 * written where the module looks, so that Turbopack loads it again and it fails with the message.
 */
function devServer(engine: Engine, loader: TurbopackLoaderContext): DevServer {
  if (dev?.engine === engine) return dev.server;
  const { build, generationDelayMs } = loader.getOptions();
  const server = new DevServer({
    urlPrefix: "/",
    getEngine: async () => engine,
    logger: () => engine.options.logger,
    ...(generationDelayMs !== undefined && { delayMs: generationDelayMs }),
  });
  server.attach({
    root: engine.options.root,
    isLoaded: () => true,
    reload: () => {},
    reportError: (error, failed) => void writeFileAtomic(failureFile(engine, failed), JSON.stringify({ build, message: error.message })).catch(() => {}),
  });
  dev = { server, engine };
  return server;
}

/** Where a failed background generation is recorded for the module to report. */
function failureFile(engine: Engine, spec: ImageSpec): string {
  return path.join(engine.options.cacheDir, "next-dev", `${originalKey(spec.generation)}.failed.json`);
}

/**
 * A background generation of this `next dev` failed: the module fails with its message, which
 * Next shows in its overlay. One of an earlier dev server is forgotten: this one tries again.
 */
async function reportFailure(failure: string, loader: TurbopackLoaderContext): Promise<void> {
  const recorded = await readFile(failure, "utf8").then((text) => JSON.parse(text) as { build: string; message: string }, () => undefined);
  if (!recorded) return;
  if (recorded.build !== loader.getOptions().build) {
    await rm(failure, { force: true });
    return;
  }
  throw new ImagegenError(recorded.message);
}
