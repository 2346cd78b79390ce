// Vite's dev server (SPEC §11): a module never waits for the API. A missing original is answered
// with placeholders of the final size while it is generated in the background; once stored, the
// modules that use it are reloaded through HMR. Variants are encoded when a browser asks for them.
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import {
  type Engine,
  type ImageSpec,
  type Logger,
  type OriginalRef,
  type PlannedVariant,
  SIZE_PIXELS,
  contentTypeOfFile,
  extensionOf,
  originalKey,
  placeholderSvg,
  planVariants,
  truncate,
} from "@imagegen/core";
import type { ViteDevServer } from "vite";
import { promptSlug } from "../output/file-names.js";
import type { ModuleImage } from "../module/module-code.js";

/** A variant of a dev module: its pixel size, and the URL the dev server answers it at. */
export interface DevVariant extends PlannedVariant {
  url: string;
}

/** What the dev server serves under one URL name: a variant to encode on request, or a stand-in. */
type DevAsset =
  | { kind: "variant"; original: OriginalRef; spec: ImageSpec; planned: PlannedVariant }
  | { kind: "pending"; spec: ImageSpec; planned: PlannedVariant };

/** A generation running in the background, and the modules to reload when it is stored. */
interface Generation {
  modules: Set<string>;
}

export class DevServer {
  readonly #urlPrefix: string;
  readonly #getEngine: () => Promise<Engine>;
  readonly #logger: () => Logger;
  readonly #onStored: () => void;
  readonly #assets = new Map<string, DevAsset>();
  readonly #generations = new Map<string, Generation>();
  #server: ViteDevServer | undefined;
  #closed = false;

  /** `onStored`: an original was stored (and locked) in the background. */
  constructor(urlPrefix: string, getEngine: () => Promise<Engine>, logger: () => Logger, onStored: () => void = () => {}) {
    this.#urlPrefix = urlPrefix;
    this.#getEngine = getEngine;
    this.#logger = logger;
    this.#onStored = onStored;
  }

  /** Serves the images, and lets the background generations reload modules and report failures. */
  attach(server: ViteDevServer): void {
    this.#server = server;
    server.middlewares.use((req, res, next) => {
      const url = req.url?.split("?")[0];
      if (!url?.startsWith(this.#urlPrefix)) return next();
      this.#serve(decodeURIComponent(url.slice(this.#urlPrefix.length)), req, res).catch(next);
    });
  }

  /** The server is closing: nothing is reloaded or reported any more (the engine's signal stops the work). */
  close(): void {
    this.#closed = true;
    if (this.#generations.size > 0) {
      this.#logger().info(`cancelled ${this.#generations.size} generation(s) in progress`);
    }
  }

  /**
   * What module `moduleId` shows for `spec`, at once: the stored original's variants (encoded when
   * asked for), or stand-ins of the final size while the original is generated in the background.
   * Frozen mode's missing originals and bad specs throw here, for the bundler's error overlay.
   */
  async image(spec: ImageSpec, moduleId: string): Promise<ModuleImage<DevVariant>> {
    const engine = await this.#getEngine();
    // Placeholder-provider images are made in moments and frozen mode fails at once: neither waits,
    // and resolveOriginal looks in the store first.
    const original = this.#generatesInBackground(engine) ? await engine.storedOriginal(spec) : await engine.resolveOriginal(spec);
    if (original) return this.#ready(engine, original, spec);
    this.#generate(engine, spec, moduleId);
    return this.#pending(spec);
  }

  #generatesInBackground(engine: Engine): boolean {
    return !engine.options.frozen && engine.options.provider.persistent !== false;
  }

  async #ready(engine: Engine, original: OriginalRef, spec: ImageSpec): Promise<ModuleImage<DevVariant>> {
    const key = (await engine.renditionKey(original, spec)).slice(0, 12);
    const variants = planVariants(original, spec.output).map((planned) => {
      const name = `${promptSlug(spec.prompt)}-${planned.width}.${key}.${extensionOf(planned.format)}`;
      this.#assets.set(name, { kind: "variant", original, spec, planned });
      return { ...planned, url: `${this.#urlPrefix}${name}` };
    });
    return { spec, rendition: { variants, placeholder: await engine.placeholder(original, spec) } };
  }

  /** Stand-ins of the final pixel size (the API makes square images of the asked size). */
  #pending(spec: ImageSpec): ModuleImage<DevVariant> {
    const pixels = SIZE_PIXELS[spec.generation.size];
    const key = originalKey(spec.generation);
    const variants = planVariants({ width: pixels, height: pixels }, spec.output).map((planned) => {
      const name = `pending/${promptSlug(spec.prompt)}-${planned.width}.${key}.${planned.format}.svg`;
      this.#assets.set(name, { kind: "pending", spec, planned });
      return { ...planned, url: `${this.#urlPrefix}${name}` };
    });
    return { spec, rendition: { variants, placeholder: undefined } };
  }

  #generate(engine: Engine, spec: ImageSpec, moduleId: string): void {
    const key = originalKey(spec.generation);
    const running = this.#generations.get(key);
    if (running) {
      running.modules.add(moduleId);
      return;
    }
    const generation: Generation = { modules: new Set([moduleId]) };
    this.#generations.set(key, generation);
    const logger = this.#logger();
    const where = this.#relative(spec.source.file);
    const started = performance.now();
    logger.info(`generating "${truncate(spec.prompt)}" for ${where} in the background (${this.#generations.size} in progress)`);
    engine.resolveOriginal(spec).then(
      () => {
        this.#generations.delete(key);
        if (this.#closed) return;
        this.#onStored();
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        logger.info(`"${truncate(spec.prompt)}" is ready after ${seconds} s; updating the page (${this.#generations.size} still generating)`);
        this.#reload(generation.modules, true);
      },
      (error: unknown) => {
        this.#generations.delete(key);
        if (this.#closed) return;
        this.#reportError(error as Error, spec);
        // The stand-ins stay on the page; the next load of these modules tries again.
        this.#reload(generation.modules, false);
      },
    );
  }

  /** Invalidates the modules; with `hot`, the browser re-imports them (HMR, or a full reload where none accepts). */
  #reload(moduleIds: Set<string>, hot: boolean): void {
    const server = this.#server;
    if (!server) return;
    for (const environment of Object.values(server.environments)) {
      for (const id of moduleIds) {
        const module = environment.moduleGraph.getModuleById(id);
        if (!module) continue;
        if (hot && environment.name === "client") void environment.reloadModule(module);
        else environment.moduleGraph.invalidateModule(module);
      }
    }
  }

  /** A failure in the background: in the terminal and in the browser's error overlay, at once. */
  #reportError(error: Error, spec: ImageSpec): void {
    this.#logger().warn(error.message);
    const { file, line, column } = spec.source;
    this.#server?.ws.send({
      type: "error",
      err: {
        message: `[imagegen] ${error.message}`,
        stack: "",
        id: file,
        plugin: "unplugin-imagegen",
        ...(line !== undefined && { loc: { file, line, column: column ?? 1 } }),
      },
    });
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
      bytes = Buffer.from(placeholderSvg(asset.spec.generation, asset.planned, "generating…"));
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
    const root = this.#server?.config.root;
    return root ? path.relative(root, file) || file : file;
  }
}

