// A dev server's images (SPEC §11), whichever server: a module never waits for the API. A missing
// original is answered with stand-ins of the final size while it is generated in the background;
// once stored, the modules that use it are reloaded. Variants are encoded when a browser asks.
// What differs between Vite's server, webpack's and Next's loaders is behind `DevHost`.
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import {
  type Engine,
  type ImageSpec,
  type Logger,
  type OriginalKey,
  type OriginalRef,
  type PlannedVariant,
  contentTypeOfFile,
  extensionOf,
  originalKey,
  planVariants,
  truncate,
} from "@imagegen/core";
import { promptSlug } from "../output/file-names.js";
import type { ModuleImage } from "../module/module-code.js";
import { standInSvg, standInVariants } from "./stand-ins.js";

/**
 * How long a missing image's spec must stay the same before it is paid for: an editor that saves
 * as you type ("a fox", then "a red fox") pays for what you stopped at, not for every word.
 */
export const GENERATION_DELAY_MS = 1_500;

/** URL names the dev server keeps answering: the newest ones; an older page asks to be reloaded. */
const MAX_ASSETS = 4_096;

/** A variant of a dev module: its pixel size, and the URL the dev server answers it at. */
export interface DevVariant extends PlannedVariant {
  url: string;
}

/** What a dev server does for the images in its own way (Vite's module graph, webpack's rebuilds, Next's loaders). */
export interface DevHost {
  /** The project root, for the paths the terminal shows. */
  readonly root: string | undefined;
  /** Whether a page (or a server render) still has the module; a server that cannot tell says yes. */
  isLoaded(moduleId: string): boolean;
  /** The modules' original is stored (`hot`) or failed: load them again (through HMR where it can). */
  reload(moduleIds: Set<string>, hot: boolean): void;
  /** A background generation failed: show it in the browser's overlay (the terminal has it already). */
  reportError(error: Error, spec: ImageSpec): void;
}

/** A module's image as the dev server shows it, and whether it is a stand-in. */
export type DevImage = ModuleImage<DevVariant> & { pending: boolean };

/** What the dev server serves under one URL name: a variant to encode on request, or a stand-in. */
type DevAsset =
  | { kind: "variant"; original: OriginalRef; spec: ImageSpec; planned: PlannedVariant }
  | { kind: "pending"; spec: ImageSpec; planned: PlannedVariant };

/** A generation waiting for its delay or its turn, or running, and the modules to reload when it is stored. */
interface Generation {
  spec: ImageSpec;
  modules: Set<string>;
  state: "waiting" | "queued" | "running";
  timer?: NodeJS.Timeout;
}

export interface DevServerOptions {
  /** `<base>@imagegen/`: where the images are served. */
  urlPrefix: string;
  getEngine: () => Promise<Engine>;
  logger: () => Logger;
  /** An original was stored (and locked) in the background. */
  onStored?: () => void;
  /** @default {@link GENERATION_DELAY_MS} */
  delayMs?: number;
}

export class DevServer {
  readonly #urlPrefix: string;
  readonly #getEngine: () => Promise<Engine>;
  readonly #logger: () => Logger;
  readonly #onStored: () => void;
  readonly #delayMs: number;
  readonly #assets = new Map<string, DevAsset>();
  readonly #generations = new Map<OriginalKey, Generation>();
  /** The keys each module showed when it was last loaded: what the page still wants. */
  readonly #wanted = new Map<string, Set<OriginalKey>>();
  #running = 0;
  /** A framework may run two servers with one plugin (Nuxt's client and server): each is told. */
  readonly #hosts = new Set<DevHost>();
  #closed = false;

  constructor({ urlPrefix, getEngine, logger, onStored = () => {}, delayMs = GENERATION_DELAY_MS }: DevServerOptions) {
    this.#urlPrefix = urlPrefix;
    this.#getEngine = getEngine;
    this.#logger = logger;
    this.#onStored = onStored;
    this.#delayMs = delayMs;
  }

  /** Lets the background generations reload modules and report failures through a server. */
  attach(host: DevHost): void {
    this.#hosts.add(host);
  }

  /**
   * Connect-style middleware (Vite, webpack-dev-server): answers the image URLs, passes the rest on.
   * A server that mounts Vite under its base (Nuxt's `/_nuxt/`) hands it URLs without the base.
   */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void => {
    const url = req.url?.split("?")[0];
    const prefix = [this.#urlPrefix, `/${this.#urlPrefix.split("/").slice(-2).join("/")}`].find((candidate) => url?.startsWith(candidate));
    if (!url || !prefix) return next();
    this.#serve(decodeURIComponent(url.slice(prefix.length)), req, res).catch(next);
  };

  /**
   * The server is closing: nothing is reloaded or reported any more, and nothing waiting starts
   * (the engine's signal stops the rest; what the API already made is still stored, see `drain`).
   */
  close(): void {
    this.#closed = true;
    const pending = [...this.#generations.values()];
    for (const generation of pending) clearTimeout(generation.timer);
    if (pending.length > 0) this.#logger().info(`cancelled ${pending.length} generation(s) in progress`);
  }

  /**
   * What module `moduleId` shows for each of its specs, at once: the stored original's variants
   * (encoded when asked for), or stand-ins of the final size while the original is generated in
   * the background, once its spec has stayed the same for a moment. Frozen mode's missing
   * originals and bad specs throw here, for the bundler's error overlay.
   */
  async images(specs: ImageSpec[], moduleId: string): Promise<DevImage[]> {
    const engine = await this.#getEngine();
    const originals = await this.originals(specs, moduleId);
    return Promise.all(
      specs.map(async (spec, i) => {
        const original = originals[i];
        return original ? { ...(await this.#ready(engine, original, spec, moduleId)), pending: false } : { ...this.#pending(spec), pending: true };
      }),
    );
  }

  /**
   * The stored original of each spec, or `undefined` for one that is generated in the background
   * (the module shows stand-ins of its own; the hosts reload `moduleId` once it is stored): for a
   * server that serves no URLs of the plugin (Next's). Placeholder-provider images are made in
   * moments and frozen mode fails at once: neither waits, and resolveOriginal looks in the store first.
   */
  async originals(specs: ImageSpec[], moduleId: string): Promise<(OriginalRef | undefined)[]> {
    const engine = await this.#getEngine();
    this.#wanted.set(moduleId, new Set(specs.map((spec) => originalKey(spec.generation))));
    return Promise.all(
      specs.map(async (spec) => {
        if (!this.#generatesInBackground(engine)) return engine.resolveOriginal(spec);
        const stored = await engine.storedOriginal(spec);
        if (!stored) this.#schedule(engine, spec, moduleId);
        return stored;
      }),
    );
  }

  #generatesInBackground(engine: Engine): boolean {
    return !engine.options.frozen && engine.options.provider.persistent !== false;
  }

  async #ready(engine: Engine, original: OriginalRef, spec: ImageSpec, moduleId: string): Promise<ModuleImage<DevVariant>> {
    const key = (await engine.renditionKey(original, spec)).slice(0, 12);
    const variants = planVariants(original, spec.output).map((planned) => {
      const name = `${promptSlug(spec.prompt)}-${planned.width}.${key}.${extensionOf(planned.format)}`;
      this.#remember(name, { kind: "variant", original, spec, planned });
      return { ...planned, url: `${this.#urlPrefix}${name}` };
    });
    return { spec, rendition: { variants, placeholder: await this.#placeholder(engine, original, spec, moduleId) } };
  }

  /**
   * The blurred placeholder, when it can be had at once: an original only in the remote store is
   * downloaded in the background, and the module is reloaded with its placeholder then.
   */
  async #placeholder(engine: Engine, original: OriginalRef, spec: ImageSpec, moduleId: string): Promise<string | undefined> {
    if (spec.output.placeholder !== "blur") return undefined;
    const cached = engine.derivedCache.getPlaceholder(await engine.renditionKey(original, spec));
    if (cached !== undefined || !original.ready) return cached ?? engine.placeholder(original, spec);
    engine.placeholder(original, spec).then(
      () => this.#reload(new Set([moduleId]), true),
      (error: unknown) => this.#reportError(error as Error, spec),
    );
    return undefined;
  }

  /** Stand-ins of the final pixel size. */
  #pending(spec: ImageSpec): ModuleImage<DevVariant> {
    const key = originalKey(spec.generation);
    const variants = standInVariants(spec).map((planned) => {
      // By both sides: two imports of one prompt with another aspect are two stand-ins.
      const name = `pending/${promptSlug(spec.prompt)}-${planned.width}x${planned.height}.${key}.${planned.format}.svg`;
      this.#remember(name, { kind: "pending", spec, planned });
      return { ...planned, url: `${this.#urlPrefix}${name}` };
    });
    return { spec, rendition: { variants, placeholder: undefined } };
  }

  #remember(name: string, asset: DevAsset): void {
    this.#assets.delete(name);
    this.#assets.set(name, asset);
    for (const oldest of this.#assets.keys()) {
      if (this.#assets.size <= MAX_ASSETS) break;
      this.#assets.delete(oldest);
    }
  }

  /** A missing original is generated once its spec has been asked for unchanged for the delay. */
  #schedule(engine: Engine, spec: ImageSpec, moduleId: string): void {
    const key = originalKey(spec.generation);
    const known = this.#generations.get(key);
    if (known) {
      known.modules.add(moduleId);
      if (known.state === "waiting") this.#wait(engine, key, known);
      return;
    }
    const generation: Generation = { spec, modules: new Set([moduleId]), state: "waiting" };
    this.#generations.set(key, generation);
    this.#wait(engine, key, generation);
  }

  #wait(engine: Engine, key: OriginalKey, generation: Generation): void {
    clearTimeout(generation.timer);
    generation.timer = setTimeout(() => {
      generation.state = "queued";
      this.#startNext(engine);
    }, this.#delayMs);
    generation.timer.unref();
  }

  /**
   * Starts queued generations while fewer than `concurrency` run (the engine itself never queues
   * one), once the ones no loaded module wants any more are dropped.
   */
  #startNext(engine: Engine): void {
    this.#dropUnwanted();
    for (const [key, generation] of this.#generations) {
      if (this.#closed || this.#running >= engine.options.concurrency) return;
      if (generation.state === "queued") this.#run(engine, key, generation);
    }
  }

  /**
   * Drops the generations not yet started that no loaded module wants any more (a prompt typed
   * over). Asked when one would start, after the delay: by then the importers' new imports are known.
   */
  #dropUnwanted(): void {
    const wanted = new Set<OriginalKey>();
    for (const [moduleId, keys] of this.#wanted) {
      if (!this.#isLoaded(moduleId)) this.#wanted.delete(moduleId);
      else for (const key of keys) wanted.add(key);
    }
    for (const [key, generation] of this.#generations) {
      if (generation.state === "running" || wanted.has(key)) continue;
      clearTimeout(generation.timer);
      this.#generations.delete(key);
      this.#logger().info(`not generating "${truncate(generation.spec.prompt)}": no module uses it any more`);
    }
  }

  /** Whether a page (or a server render) still has the module: in a graph, and imported by something. */
  #isLoaded(moduleId: string): boolean {
    return this.#hosts.size === 0 || [...this.#hosts].some((host) => host.isLoaded(moduleId));
  }

  #run(engine: Engine, key: OriginalKey, generation: Generation): void {
    generation.state = "running";
    this.#running++;
    const { spec } = generation;
    const logger = this.#logger();
    const where = this.#relative(spec.source.file);
    const started = performance.now();
    logger.info(`generating "${truncate(spec.prompt)}" for ${where} in the background (${this.#running} in progress)`);
    const settle = () => {
      this.#generations.delete(key);
      this.#running--;
      this.#startNext(engine);
    };
    engine.resolveOriginal(spec).then(
      () => {
        settle();
        if (this.#closed) return;
        this.#onStored();
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        logger.info(`"${truncate(spec.prompt)}" is ready after ${seconds} s; updating the page (${this.#running} still generating)`);
        this.#reload(generation.modules, true);
      },
      (error: unknown) => {
        settle();
        if (this.#closed) return;
        this.#reportError(error as Error, spec);
        // The stand-ins stay on the page; the next load of these modules tries again.
        this.#reload(generation.modules, false);
      },
    );
  }

  /**
   * The lock now pins another original of `key` (a choice on the review page): the modules that
   * show it are reloaded, and the page swaps to the chosen image through HMR, without a reload.
   */
  reloadImage(key: OriginalKey): void {
    const modules = new Set<string>();
    for (const [moduleId, keys] of this.#wanted) if (keys.has(key)) modules.add(moduleId);
    this.#reload(modules, true);
  }

  /** Invalidates the modules; with `hot`, the browser re-imports them (HMR, or a full reload where none accepts). */
  #reload(moduleIds: Set<string>, hot: boolean): void {
    if (this.#closed) return;
    for (const host of this.#hosts) host.reload(moduleIds, hot);
  }

  /** A failure in the background: in the terminal and in the browser's error overlay, at once. */
  #reportError(error: Error, spec: ImageSpec): void {
    this.#logger().warn(error.message);
    for (const host of this.#hosts) host.reportError(error, spec);
  }

  async #serve(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const asset = this.#assets.get(name);
    if (!asset) {
      res.statusCode = 404;
      res.setHeader("Content-Type", "text/plain; charset=utf-8");
      res.end("imagegen: no such image (it may be from an earlier build; reload the page)");
      return;
    }
    let bytes: Uint8Array;
    let contentType: string;
    if (asset.kind === "pending") {
      bytes = Buffer.from(standInSvg(asset.spec, asset.planned));
      contentType = "image/svg+xml";
    } else {
      const engine = await this.#getEngine();
      bytes = (await engine.variant(asset.original, asset.spec, asset.planned)).bytes;
      contentType = contentTypeOfFile(name);
    }
    res.setHeader("Content-Type", contentType);
    res.setHeader("Content-Length", String(bytes.byteLength));
    // The names of real variants change with their bytes; stand-ins are never kept.
    res.setHeader("Cache-Control", asset.kind === "pending" ? "no-store" : "max-age=31536000, immutable");
    res.end(req.method === "HEAD" ? undefined : bytes);
  }

  #relative(file: string): string {
    const root = [...this.#hosts][0]?.root;
    return root ? path.relative(root, file) || file : file;
  }
}
