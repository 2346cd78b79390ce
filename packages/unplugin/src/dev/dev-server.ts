// A dev server's images (SPEC §11), whichever server: a module never waits for the API. A missing
// original is answered with stand-ins of the final size while it is generated in the background;
// once stored, the modules that use it are reloaded. Variants are encoded when a browser asks.
// What differs between Vite's server and webpack's is behind `DevHost`.
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import {
  type Engine,
  type ImageSpec,
  type Logger,
  type OriginalRef,
  type PlannedVariant,
  contentTypeOfFile,
  extensionOf,
  originalKey,
  planVariants,
} from "@imagegen/core";
import { promptSlug } from "../output/file-names.js";
import type { ModuleImage } from "../module/module-code.js";
import { BackgroundGenerations, generatesInBackground } from "./background-generations.js";
import { standInSvg, standInVariants } from "./stand-ins.js";

/** A variant of a dev module: its pixel size, and the URL the dev server answers it at. */
export interface DevVariant extends PlannedVariant {
  url: string;
}

/** What a dev server does for the images, in its own way (Vite's module graph, webpack's rebuilds). */
export interface DevHost {
  /** The project root, for the paths the terminal shows. */
  readonly root: string | undefined;
  /** The modules' original is stored (`hot`) or failed: load them again (through HMR where it can). */
  reload(moduleIds: Set<string>, hot: boolean): void;
  /** A background generation failed: show it in the browser's overlay (the terminal has it already). */
  reportError(error: Error, spec: ImageSpec): void;
}

/** What the dev server serves under one URL name: a variant to encode on request, or a stand-in. */
type DevAsset =
  | { kind: "variant"; original: OriginalRef; spec: ImageSpec; planned: PlannedVariant }
  | { kind: "pending"; spec: ImageSpec; planned: PlannedVariant };

type Next = (error?: unknown) => void;

export class DevServer {
  readonly #urlPrefix: string;
  readonly #getEngine: () => Promise<Engine>;
  readonly #assets = new Map<string, DevAsset>();
  readonly #generations: BackgroundGenerations;
  /** A framework may run two servers with one plugin (Nuxt's client and server): each is told. */
  readonly #hosts = new Set<DevHost>();

  readonly #onStored: () => void;

  /** `onStored`: an original was stored (and locked) in the background. */
  constructor(urlPrefix: string, getEngine: () => Promise<Engine>, logger: () => Logger, onStored: () => void = () => {}) {
    this.#urlPrefix = urlPrefix;
    this.#getEngine = getEngine;
    this.#onStored = onStored;
    this.#generations = new BackgroundGenerations(logger, (file) => {
      const root = [...this.#hosts][0]?.root;
      return root ? path.relative(root, file) || file : file;
    });
  }

  /** Lets the background generations reload modules and report failures through the server. */
  attach(host: DevHost): void {
    this.#hosts.add(host);
  }

  /**
   * Connect-style middleware (Vite, webpack-dev-server): answers the image URLs, passes the rest on.
   * A server that mounts Vite under its base (Nuxt's `/_nuxt/`) hands it URLs without the base.
   */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const url = req.url?.split("?")[0];
    const prefix = [this.#urlPrefix, `/${this.#urlPrefix.split("/").slice(-2).join("/")}`].find((candidate) => url?.startsWith(candidate));
    if (!url || !prefix) return next();
    this.#serve(decodeURIComponent(url.slice(prefix.length)), req, res).catch(next);
  };

  /** The server is closing: nothing is reloaded or reported any more (the engine's signal stops the work). */
  close(): void {
    this.#generations.close();
  }

  /**
   * What module `moduleId` shows for `spec`, at once: the stored original's variants (encoded when
   * asked for), or stand-ins of the final size while the original is generated in the background.
   * Frozen mode's missing originals and bad specs throw here, for the bundler's error overlay.
   */
  async image(spec: ImageSpec, moduleId: string): Promise<ModuleImage<DevVariant> & { pending: boolean }> {
    const original = await this.original(spec, moduleId);
    if (!original) return { ...this.#pending(spec), pending: true };
    return { ...(await this.#ready(await this.#getEngine(), original, spec)), pending: false };
  }

  /**
   * The stored original of `spec`, or `undefined` while it is generated in the background (the
   * module shows stand-ins; the host reloads `moduleId` once it is stored). Frozen mode's missing
   * originals and placeholder-provider images are answered at once.
   */
  async original(spec: ImageSpec, moduleId: string): Promise<OriginalRef | undefined> {
    const engine = await this.#getEngine();
    if (!generatesInBackground(engine)) return engine.resolveOriginal(spec);
    const stored = await engine.storedOriginal(spec);
    if (stored) return stored;
    this.#generations.start(engine, spec, moduleId, {
      ready: (modules) => {
        this.#onStored();
        this.#hosts.forEach((host) => host.reload(modules, true));
      },
      failed: (error, modules) => {
        for (const host of this.#hosts) {
          host.reportError(error, spec);
          // The stand-ins stay on the page; the next load of these modules tries again.
          host.reload(modules, false);
        }
      },
    });
    return undefined;
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

  #pending(spec: ImageSpec): ModuleImage<DevVariant> {
    const key = originalKey(spec.generation);
    const variants = standInVariants(spec).map((planned) => {
      const name = `pending/${promptSlug(spec.prompt)}-${planned.width}.${key}.${planned.format}.svg`;
      this.#assets.set(name, { kind: "pending", spec, planned });
      return { ...planned, url: `${this.#urlPrefix}${name}` };
    });
    return { spec, rendition: { variants, placeholder: undefined } };
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
}
