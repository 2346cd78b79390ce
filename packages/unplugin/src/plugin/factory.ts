import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  Engine,
  ImagegenError,
  MissingOriginalError,
  consoleLogger,
  originalKey,
  type ResolveOptionsInput,
  checkSpendLimits,
  hashInputs,
  type Spending,
  spendingLine,
  spendingSince,
  isGenId,
  parseGenId,
  parseManifestRemembered,
  resolveOptions,
  resolveProjectRoot,
  resolveSpec,
  sha256Hex,
  type ImageResult,
  type PlannedVariant,
  type Variant,
  type ImageSpec,
  type Logger,
  type SourceLocation,
  writeManifestDeclarations,
} from "@imagegen/core";
import type { UnpluginFactory, UnpluginOptions } from "unplugin";
import { type AssetOutput, type EmitContext, type OutputFileLike, fileUrlOutput, viteAssetOutput } from "../output/asset-output.js";
import { DevServer } from "../dev/dev-server.js";
import { standInSvg, standInVariants } from "../dev/stand-ins.js";
import { attachToVite } from "../dev/vite-dev-host.js";
import { type DevCompilerLike, WebpackDevHost, installDevMiddleware } from "../dev/webpack-dev-host.js";
import { createCliAgreement } from "./cli-agreement.js";
import { esbuildOutput } from "../output/esbuild-output.js";
import { type AssetFileNames, assetsFolderOf, promptSlug, variantFileName } from "../output/file-names.js";
import { type LoaderPlacement, loaderAssetOutput } from "../output/loader-asset-output.js";
import { CLIENT_TYPES } from "../module/client-types.js";
import { devGenModuleCode, devManifestModuleCode } from "../dev/dev-module-code.js";
import { HMR_HELPER_CODE, HMR_HELPER_ID } from "../dev/hmr-client.js";
import { type ModuleImage, type VariantUrl, genModuleCode, manifestModuleCode } from "../module/module-code.js";
import { createLockSync } from "./lock-sync.js";
import { REVIEW_URL_PATH, attachReviewPage } from "../review/dev-review.js";
import { ReviewServer } from "../review/review-server.js";
import { PLUGIN_INSIDE_NEXT, isNextCompilation } from "./next-compilation.js";
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
  /**
   * Names the build that several compilations share (Next's server, client and edge ones), so
   * that maxGenerations and maxCost are checked once for all of them.
   * @default each compilation checks on its own
   */
  build?: string;
  /**
   * The compilation belongs to a dev server that serves no middleware of the plugin (Next's
   * webpack dev server): stand-ins are emitted like images while originals are generated.
   * @default false
   */
  dev?: boolean;
}

/** The maxGenerations and maxCost checks of builds that several compilations share, by build and root. */
const sharedChecks = new Map<string, Promise<void>>();

/**
 * The plugin's factory with a framework's {@link Placement}: `unplugin.ts` makes every bundler's
 * plugin of it, `rollup-family.ts` the Vite, Rollup and Rolldown ones alone (a build there loads
 * none of unplugin's webpack and esbuild code).
 */
export function imagegenFactory(placement: Placement = {}): UnpluginFactory<ImagegenPluginOptions | undefined> {
  return (pluginOptions = {}) => imagegenPlugin(pluginOptions, placement);
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
  // A dev server's (SPEC §11): Vite's, webpack's or rspack's (its middleware answers the image URLs:
  // `devServes`), or Next's webpack one (stand-ins are emitted). Closing it aborts the engine's generations.
  let dev: DevServer | undefined;
  // The review page at `<base>__imagegen/` of Vite's dev server (SPEC §13), on the dev server's engine.
  let review: { server: ReviewServer; prefix: string } | undefined;
  let devServes = false;
  // webpack and rspack watch builds: the host that rebuilds a module once its original is stored.
  let webpackHost: WebpackDevHost | undefined;
  let abort = new AbortController();
  // Short hashed virtual ids keep prompts (dots, spaces, `?`, non-Latin text) out of URLs and
  // away from Vite's `?import` rewriting.
  const genImports = new Map<string, GenImport>();
  let missing: MissingOriginalError[] = [];
  const agreement = createCliAgreement();
  // The plain webpack plugin inside Next's webpack() hook: refused when the build starts.
  let insideNext = false;
  const lockSync = createLockSync(() => getEngine(), () => logger ?? quietLogger);
  // What the engine had spent when this build started: a watch's engine lives across its builds.
  let spentBefore: { engine: Engine; spending: Spending; requests: number; downloaded: number } | undefined;

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
    // A restarted Vite server gets new images (configResolved makes them); webpack's host keeps its own.
    if (!webpackHost) dev = undefined;
    abort.abort(new ImagegenError("The dev server closed."));
    abort = new AbortController();
    engine = undefined;
  }

  /** A build's last line, when it generated or downloaded anything (a warm build stays quiet): what it made and spent. */
  function reportSpending(started: Engine): void {
    const before = spentBefore?.engine === started ? spentBefore : { spending: undefined, requests: 0, downloaded: 0 };
    const requests = started.stats.requests - before.requests;
    const downloaded = started.stats.downloaded - before.downloaded;
    spentBefore = { engine: started, spending: started.spending, requests: started.stats.requests, downloaded: started.stats.downloaded };
    if (requests === 0 && downloaded === 0) return;
    const spending = before.spending ? spendingSince(before.spending, started.spending) : started.spending;
    started.options.logger.info(spendingLine(spending, { requests, downloaded }));
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

  function newDevServer(urlPrefix: string, devLogger: () => Logger): DevServer {
    return new DevServer({
      urlPrefix,
      getEngine,
      logger: devLogger,
      onStored: lockSync.later,
      ...(generationDelayMs !== undefined && { delayMs: generationDelayMs }),
    });
  }

  /**
   * What a module shows of its specs in this build, and how their variants' URLs are written: in a
   * dev server, at once (stand-ins while an original is generated; a webpack module showing them
   * is not cached, so that the rebuild after the generation loads it again); else the renditions.
   */
  async function shownImages(context: EmitContext, specs: ImageSpec[], id: string): Promise<{ image: ModuleImage<any>; url: VariantUrl<any> }[] | undefined> {
    if (dev) {
      for (const spec of specs) {
        const failure = webpackHost?.takeFailure(spec);
        if (failure) throw failure;
      }
      if (devServes) {
        const images = await dev.images(specs, id);
        if (images.some((image) => image.pending)) uncacheable(context);
        return images.map((image) => ({ image, url: devUrl }));
      }
      const originals = await dev.originals(specs, id);
      if (originals.some((original) => !original)) uncacheable(context);
      const shown = await Promise.all(
        specs.map(async (spec, i) => {
          if (originals[i]) return resolveImage(spec).then((result) => result && { image: result, url: urlFor(context) });
          return { image: { spec, rendition: { variants: standInVariants(spec), placeholder: undefined } }, url: standInUrl(context) };
        }),
      );
      return shown.every((entry) => entry !== undefined) ? shown : undefined;
    }
    const results = await Promise.all(specs.map((spec) => resolveImage(spec)));
    if (results.some((result) => !result)) return undefined;
    return results.map((result) => ({ image: result!, url: urlFor(context) }));
  }

  /** Next's webpack dev server: stand-ins are emitted beside the images. */
  function standInUrl(context: EmitContext): VariantUrl<PlannedVariant> {
    return (planned, spec) => {
      const key = originalKey(spec.generation);
      const fileName = `${assetsDir}/pending/${promptSlug(spec.prompt)}-${planned.width}.${key}.${planned.format}.svg`;
      return output.emit(context, fileName, { ...planned, bytes: Buffer.from(standInSvg(spec, planned)), hash: key });
    };
  }

  /** Watches a webpack or rspack compiler; with a dev server, its modules answer at once. */
  function watchCompiler(compiler: DevCompilerLike & { hooks: { watchClose: { tap(name: string, callback: () => void): void } } }) {
    compiler.hooks.watchClose.tap("unplugin-imagegen", cancelGenerations);
    const startDev = (serves: boolean) => {
      webpackHost = new WebpackDevHost(compiler, root);
      dev = newDevServer(`/${DEV_URL_PATH}`, () => logger ?? consoleLogger);
      dev.attach(webpackHost);
      devServes = serves;
    };
    if (placement.dev) startDev(false);
    else installDevMiddleware(compiler, (req, res, next) => dev?.middleware(req, res, next), () => startDev(true));
  }

  return {
    name: "unplugin-imagegen",
    enforce: "pre",

    async buildStart() {
      output.reset();
      missing = [];
      if (insideNext) throw userError(new ImagegenError(PLUGIN_INSIDE_NEXT));
      try {
        // maxGenerations and maxCost refuse a build that would pay for too much before it pays for anything.
        const started = await getEngine();
        const { options } = started;
        spentBefore = { engine: started, spending: started.spending, requests: started.stats.requests, downloaded: started.stats.downloaded };
        if (!placement.build) return await checkSpendLimits(options);
        const key = `${placement.build}\0${options.root}`;
        if (!sharedChecks.has(key)) sharedChecks.set(key, checkSpendLimits(options));
        await sharedChecks.get(key);
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
          const [shown] = (await shownImages(context, [spec], id)) ?? [];
          if (dev) lockSync.later();
          if (!shown) return "export default undefined;";
          // Vite's dev modules swap their URLs on the page by HMR; webpack's are rebuilt.
          return dev && !webpackHost ? devGenModuleCode(shown.image, shown.url) : genModuleCode(shown.image, shown.url);
        }
        const file = cleanId(id);
        this.addWatchFile(file);
        const text = await readFile(file, "utf8");
        const { options } = await getEngine();
        const manifest = parseManifestRemembered(text, file, options.cacheDir);
        if (dts) await writeManifestDeclarations(manifest, CLIENT_TYPES);
        const specs = await Promise.all(
          manifest.images.map(async ({ name, exportName, options: imageOptions, location }) => {
            const spec = await withInputs(this, resolveSpec(imageOptions, { ...options, source: location }));
            agreement.checkImage(imageOptions, spec, options, "manifests");
            return { name, exportName, spec };
          }),
        );
        const shown = await shownImages(context, specs.map(({ spec }) => spec), id);
        if (dev) lockSync.later();
        if (!shown) return "export default {};";
        const images = specs.map(({ name, exportName }, i) => ({ name, exportName, image: shown[i]!.image }));
        // Every image of one manifest is written alike: its URLs come from the same dev server or build.
        const indexOf = new Map(specs.map(({ spec }, i) => [spec, i]));
        const url: VariantUrl<any> = (variant, spec) => shown[indexOf.get(spec)!]!.url(variant, spec);
        return dev && !webpackHost ? devManifestModuleCode(images, url) : manifestModuleCode(images, url);
      } catch (error) {
        if (error instanceof ImagegenError) this.error(userError(error));
        throw error;
      }
    },

    async buildEnd() {
      const current = engine;
      await agreement.settle();
      // Vite calls it when its dev server closes; webpack after every build of a watch (watchClose cancels there).
      if (dev && !webpackHost) cancelGenerations();
      // A build whose options were refused has nothing to trim: buildStart reported why, without a stack.
      const started = await current?.catch(() => undefined);
      // What the API already made (and charged) is downloaded and stored, even as a dev server closes.
      // A webpack dev server's builds end while its generations go on: they are not waited for.
      if (!webpackHost) await started?.drain();
      // The derived cache stays within cacheMaxBytes: least recently used renditions of other builds go.
      if (started) await started.trimDerivedCache();
      if (started) reportSpending(started);
      if (dev) return;
      // The lock holds the images in use: one whose prompt changed in this build is dropped.
      if (started) await lockSync.now().catch((error: unknown) => started.options.logger.warn(`Could not update the lock: ${(error as Error).message}`));
      // A writable machine's build leaves the renditions of this lock in one object for the next cold machine.
      if (started) await started.sharePack();
      if (missing.length === 0) return;
      const lines = missing.map((error) => `  - ${error.message}`);
      throw userError(new ImagegenError(`${missing.length} image(s) have no stored original:\n${lines.join("\n")}`));
    },

    webpack(compiler) {
      insideNext = placement.publicPath === undefined && isNextCompilation(compiler.options);
      setBundlerRoot(compiler.options.context);
      output = loaderAssetOutput(placement);
      rewriteGenRequests(compiler, "unplugin-imagegen", virtualIdOf);
      watchCompiler(compiler);
    },

    rspack(compiler) {
      setBundlerRoot(compiler.options.context);
      output = loaderAssetOutput(placement);
      rewriteGenRequests(compiler, "unplugin-imagegen", virtualIdOf);
      watchCompiler(compiler as unknown as Parameters<typeof watchCompiler>[0]);
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
        // One dev server's images for every Vite server of this plugin (Nuxt runs a client and a server one).
        dev = config.command === "serve" ? (dev ?? newDevServer(`${config.base}${DEV_URL_PATH}`, () => logger!)) : undefined;
        devServes = true;
        const devServer = dev;
        review = devServer
          ? (review ?? { server: new ReviewServer({ getEngine, onChosen: (key) => devServer.reloadImage(key) }), prefix: `${config.base}${REVIEW_URL_PATH}` })
          : undefined;
        if (!dev) output = viteAssetOutput();
      },
      configureServer(server) {
        if (dev) attachToVite(dev, server);
        if (review) attachReviewPage(server, review.server, review.prefix, (message) => logger?.info(message));
      },
    },
  };
}

const HMR_HELPER_VIRTUAL_ID = `${VIRTUAL_PREFIX}hmr.js`;

/** A webpack or rspack module that shows stand-ins is built again on the next rebuild. */
function uncacheable(context: EmitContext): void {
  const native = context.getNativeBuildContext?.() as { loaderContext?: { cacheable?(flag: boolean): void } } | undefined;
  native?.loaderContext?.cacheable?.(false);
}

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
