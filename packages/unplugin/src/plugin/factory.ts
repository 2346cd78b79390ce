import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  Engine,
  ImagegenError,
  MissingOriginalError,
  type ResolveOptionsInput,
  checkMaxGenerations,
  hashInputs,
  isGenId,
  parseGenId,
  parseManifest,
  resolveOptions,
  resolveProjectRoot,
  resolveSpec,
  sha256Hex,
  type ImageResult,
  type Variant,
  type ImageSpec,
  type SourceLocation,
  writeManifestDeclarations,
} from "@imagegen/core";
import { type UnpluginOptions, createUnplugin } from "unplugin";
import { type AssetOutput, type EmitContext, type OutputFileLike, fileUrlOutput } from "../output/asset-output.js";
import { DevServer } from "../dev/dev-server.js";
import { createCliAgreement } from "./cli-agreement.js";
import { esbuildOutput } from "../output/esbuild-output.js";
import { type AssetFileNames, assetsFolderOf, variantFileName } from "../output/file-names.js";
import { type LoaderPlacement, loaderAssetOutput } from "../output/loader-asset-output.js";
import { CLIENT_TYPES } from "../module/client-types.js";
import { devGenModuleCode, devManifestModuleCode } from "../dev/dev-module-code.js";
import { HMR_HELPER_CODE, HMR_HELPER_ID } from "../dev/hmr-client.js";
import { type VariantUrl, genModuleCode, manifestModuleCode } from "../module/module-code.js";
import { createLockSync } from "./lock-sync.js";
import { REVIEW_URL_PATH, attachReviewPage } from "../review/dev-review.js";
import { ReviewServer } from "../review/review-server.js";
import { rewriteGenRequests } from "./scheme-requests.js";

/** Options of the bundler plugin: every option of `imagegen.config.ts`, and these of the plugin alone. */
export interface ImagegenPluginOptions extends ResolveOptionsInput {
  /**
   * Write `<manifest>.d.ts` beside every prompt manifest the build loads (rewritten only when
   * its names change), so that `import { hero } from "./site.prompts.yaml"` is typed by name and
   * a misspelt name fails type-checking. Off by default: it writes into your source folders.
   * @default false
   */
  dts?: boolean;
  /**
   * In a dev server, how long a missing image's spec must stay the same before it is paid for, in
   * milliseconds: an editor that saves as you type pays for the prompt you stopped at, not for
   * each word on the way.
   * @default 1500
   */
  generationDelayMs?: number;
}

const VIRTUAL_PREFIX = "\0imagegen:";
const MANIFEST_RE = /\.prompts\.ya?ml$/;
const INPUT_PARAMETER_RE = /[?&](?:edit|ref)=/;
export const DEV_URL_PATH = "@imagegen/";

interface GenImport {
  id: string;
  importer: string | undefined;
}

/**
 * Where a framework wants images that the bundler's own options do not tell (Next's webpack
 * compilations): `assetsDir` is the folder of images in the client's output.
 */
export interface Placement extends LoaderPlacement {
  /** @default "assets" (Vite: the folder of `assetFileNames`, else `build.assetsDir`) */
  assetsDir?: string;
}

/** The plugin with a framework's {@link Placement}; {@link unpluginImagegen} is the one without. */
export function createImagegenUnplugin(placement: Placement = {}) {
  return createUnplugin<ImagegenPluginOptions | undefined>((pluginOptions = {}) => imagegenPlugin(pluginOptions, placement));
}

function imagegenPlugin(pluginOptions: ImagegenPluginOptions, placement: Placement): UnpluginOptions {
  const { dts = false, generationDelayMs, ...inline } = pluginOptions;
  // Found from the bundler's root once its hook below tells it (the current folder until then).
  let root = resolveProjectRoot(inline.root);
  const setBundlerRoot = (dir: string | undefined) => {
    if (dir !== undefined) root = resolveProjectRoot(inline.root, dir);
  };
  let assetsDir = placement.assetsDir ?? "assets";
  // Rollup's and Rolldown's (both read ROLLUP_FILE_URL_); every other bundler's hook below sets its own.
  let output: AssetOutput = fileUrlOutput("ROLLUP_FILE_URL");
  let engine: Promise<Engine> | undefined;
  let logger = inline.logger;
  // Vite's dev server only (SPEC §11); closing it aborts the engine's generations.
  let dev: DevServer | undefined;
  // The review page at `<base>__imagegen/` of Vite's dev server (SPEC §13), on the dev server's engine.
  let review: { server: ReviewServer; prefix: string } | undefined;
  let abort = new AbortController();
  // Short hashed virtual ids keep prompts (dots, spaces, `?`, non-Latin text) out of URLs and
  // away from Vite's `?import` rewriting.
  const genImports = new Map<string, GenImport>();
  let missing: MissingOriginalError[] = [];
  const agreement = createCliAgreement();
  const lockSync = createLockSync(() => getEngine(), () => logger ?? quietLogger);

  const getEngine = () => {
    const { signal } = abort;
    engine ??= resolveOptions({ ...inline, root, ...(logger ? { logger } : {}) }).then(
      (options) => new Engine(options, { signal }),
    );
    return engine;
  };

  async function resolveImage(spec: ImageSpec): Promise<ImageResult | undefined> {
    try {
      return await (await getEngine()).resolveImage(spec);
    } catch (error) {
      // In frozen mode, every missing original is listed at the end of the build, not just the first.
      if (error instanceof MissingOriginalError && (await getEngine()).options.frozen) {
        missing.push(error);
        return undefined;
      }
      throw error;
    }
  }

  /** A dev server or watcher closes: cancel queued generations and stop retries; a restart starts afresh. */
  function cancelGenerations(): void {
    dev?.close();
    abort.abort(new ImagegenError("The dev server closed."));
    abort = new AbortController();
    engine = undefined;
  }

  function virtualIdOf(id: string, importer: string | undefined): string {
    // `edit=` and `ref=` paths are relative to the importer: the same id in another folder is another image.
    const scope = INPUT_PARAMETER_RE.test(id) && importer ? `\0${path.dirname(cleanId(importer))}` : "";
    const virtualId = `${VIRTUAL_PREFIX}${sha256Hex(id + scope).slice(0, 16)}.js`;
    if (!genImports.has(virtualId)) genImports.set(virtualId, { id, importer: importer && cleanId(importer) });
    return virtualId;
  }

  /** Reads the spec's input files, watched so that editing one makes the image again (dev, watch mode). */
  async function withInputs(context: { addWatchFile(file: string): void }, spec: ImageSpec): Promise<ImageSpec> {
    for (const input of spec.generation.inputs ?? []) context.addWatchFile(input.file);
    return hashInputs(spec, (await getEngine()).options.root);
  }

  function pruneBundle(_options: unknown, bundle: object) {
    output.prune?.(bundle as Record<string, OutputFileLike>);
  }

  function urlFor(context: EmitContext): VariantUrl<Variant> {
    return (variant, spec) => output.emit(context, variantFileName(spec, variant, assetsDir), variant);
  }

  return {
    name: "unplugin-imagegen",
    enforce: "pre",

    async buildStart() {
      output.reset();
      missing = [];
      try {
        // maxGenerations refuses a build that would pay for too many images before it pays for any.
        await checkMaxGenerations((await getEngine()).options);
      } catch (error) {
        // A bad config is reported here too, without a stack trace.
        throw error instanceof ImagegenError ? userError(error) : error;
      }
    },

    resolveId(id, importer) {
      if (isGenId(id)) return virtualIdOf(id, importer);
      if (id === HMR_HELPER_ID) return HMR_HELPER_VIRTUAL_ID;
      // webpack and rspack: a `gen:` request already swapped for its virtual id (scheme-requests.ts).
      if (genImports.has(id)) return id;
      return null;
    },

    loadInclude(id) {
      return id.startsWith(VIRTUAL_PREFIX) || MANIFEST_RE.test(cleanId(id));
    },

    async load(id) {
      const context = this as unknown as EmitContext;
      try {
        if (id === HMR_HELPER_VIRTUAL_ID) return HMR_HELPER_CODE;
        if (id.startsWith(VIRTUAL_PREFIX)) {
          const genImport = genImports.get(id);
          if (!genImport) return null;
          const { options } = await getEngine();
          const source: SourceLocation = { file: genImport.importer ?? root, id: genImport.id };
          const image = parseGenId(genImport.id, genImport.importer);
          const spec = await withInputs(this, resolveSpec(image, { ...options, source }));
          agreement.checkImage(image, spec, options, "sources");
          if (dev) {
            const [image] = await dev.images([spec], id);
            lockSync.later();
            return devGenModuleCode(image!, devUrl);
          }
          const result = await resolveImage(spec);
          return result ? genModuleCode(result, urlFor(context)) : "export default undefined;";
        }
        const file = cleanId(id);
        this.addWatchFile(file);
        const manifest = parseManifest(await readFile(file, "utf8"), file);
        if (dts) await writeManifestDeclarations(manifest, CLIENT_TYPES);
        const { options } = await getEngine();
        const specs = await Promise.all(
          manifest.images.map(async ({ name, exportName, options: imageOptions, location }) => {
            const spec = await withInputs(this, resolveSpec(imageOptions, { ...options, source: location }));
            agreement.checkImage(imageOptions, spec, options, "manifests");
            return { name, exportName, spec };
          }),
        );
        if (dev) {
          const shown = await dev.images(specs.map(({ spec }) => spec), id);
          lockSync.later();
          return devManifestModuleCode(specs.map(({ name, exportName }, i) => ({ name, exportName, image: shown[i]! })), devUrl);
        }
        const images = await Promise.all(
          specs.map(async ({ name, exportName, spec }) => ({ name, exportName, result: await resolveImage(spec) })),
        );
        if (images.some((image) => !image.result)) return "export default {};";
        return manifestModuleCode(
          images.map(({ name, exportName, result }) => ({ name, exportName, image: result! })),
          urlFor(context),
        );
      } catch (error) {
        if (error instanceof ImagegenError) this.error(userError(error));
        throw error;
      }
    },

    async buildEnd() {
      const current = engine;
      await agreement.settle();
      // Vite calls it when its dev server closes.
      if (dev) cancelGenerations();
      // A build whose options were refused has nothing to trim: buildStart reported why, without a stack.
      const started = await current?.catch(() => undefined);
      // What the API already made (and charged) is downloaded and stored, even as a dev server closes.
      await started?.drain();
      // The derived cache stays within cacheMaxBytes: least recently used renditions of other builds go.
      if (started) await started.trimDerivedCache();
      if (dev) return;
      // The lock holds the images in use: one whose prompt changed in this build is dropped.
      if (started) await lockSync.now().catch((error: unknown) => started.options.logger.warn(`Could not update the lock: ${(error as Error).message}`));
      if (missing.length === 0) return;
      const lines = missing.map((error) => `  - ${error.message}`);
      throw userError(new ImagegenError(`${missing.length} image(s) have no stored original:\n${lines.join("\n")}`));
    },

    webpack(compiler) {
      setBundlerRoot(compiler.options.context);
      output = loaderAssetOutput(placement);
      rewriteGenRequests(compiler, "unplugin-imagegen", virtualIdOf);
      compiler.hooks.watchClose.tap("unplugin-imagegen", cancelGenerations);
    },

    rspack(compiler) {
      setBundlerRoot(compiler.options.context);
      output = loaderAssetOutput(placement);
      rewriteGenRequests(compiler, "unplugin-imagegen", virtualIdOf);
      compiler.hooks.watchClose.tap("unplugin-imagegen", cancelGenerations);
    },

    // Images are emitted while loading, before tree-shaking: each output keeps the referenced ones.
    rollup: { generateBundle: pruneBundle },
    rolldown: { generateBundle: pruneBundle },

    esbuild: {
      setup(build) {
        setBundlerRoot(build.initialOptions.absWorkingDir);
        output = esbuildOutput(build);
      },
    },

    vite: {
      generateBundle: pruneBundle,
      configResolved(config) {
        setBundlerRoot(config.root);
        // Beside the bundler's own hashed assets: SvelteKit's are in `_app/immutable/assets`.
        const rollupOutput = [config.build.rollupOptions.output ?? []].flat()[0] as { assetFileNames?: AssetFileNames } | undefined;
        assetsDir = placement.assetsDir ?? assetsFolderOf(rollupOutput?.assetFileNames, config.build.assetsDir);
        logger ??= {
          info: (message) => config.logger.info(`[imagegen] ${message}`, { timestamp: true }),
          warn: (message) => config.logger.warn(`[imagegen] ${message}`, { timestamp: true }),
        };
        // Set on every config: a framework may run a dev server and then a build with one plugin.
        dev =
          config.command === "serve"
            ? new DevServer({
                urlPrefix: `${config.base}${DEV_URL_PATH}`,
                getEngine,
                logger: () => logger!,
                onStored: lockSync.later,
                ...(generationDelayMs !== undefined && { delayMs: generationDelayMs }),
              })
            : undefined;
        const devServer = dev;
        review = devServer
          ? { server: new ReviewServer({ getEngine, onChosen: (key) => devServer.reloadImage(key) }), prefix: `${config.base}${REVIEW_URL_PATH}` }
          : undefined;
        if (!dev) output = fileUrlOutput(this.meta.rolldownVersion ? "ROLLDOWN_FILE_URL" : "ROLLUP_FILE_URL");
      },
      configureServer(server) {
        dev?.attach(server);
        if (review) attachReviewPage(server, review.server, review.prefix, (message) => logger?.info(message));
      },
    },
  };
}

/** Shared by every bundler entry; what differs per bundler is the {@link AssetOutput}. */
export const unpluginImagegen = createImagegenUnplugin();

const HMR_HELPER_VIRTUAL_ID = `${VIRTUAL_PREFIX}hmr.js`;

const quietLogger = { info() {}, warn() {} };

/** Dev modules name their variants by URL: the dev server encodes each when first asked for. */
const devUrl = (variant: { url: string }) => JSON.stringify(variant.url);

function cleanId(id: string): string {
  return path.normalize(id.split("?")[0]!);
}

/** A user mistake is reported by its message alone: no stack trace. */
function userError(error: ImagegenError): Error {
  const plain = new Error(error.message);
  // The stack a bundler prints is the message alone (Rollup and Rolldown drop this "Error: " line).
  plain.stack = `Error: ${error.message}`;
  return plain;
}
