import type { IncomingMessage, ServerResponse } from "node:http";
import { type ImageSpec, originalKey } from "@imagegen/core";
import type { DevHost } from "./dev-server.js";

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
type SetupMiddlewares = (middlewares: unknown[], server: unknown) => unknown[];

/** What this uses of a webpack or rspack compiler. */
export interface DevCompilerLike {
  options: { mode?: string; devServer?: unknown; plugins?: unknown[] };
  watching?: { invalidate(): void } | null;
}

/**
 * webpack-dev-server and rspack's dev server have no hook for a plugin's middleware, but both call
 * `setupMiddlewares` of their options when they start: it is wrapped wherever those options are
 * reachable from the compiler, `compiler.options.devServer` (what `rspack serve` and
 * webpack-dev-server 5 are given) and a webpack-dev-server 6 among the plugins (`webpack serve`).
 * `started` runs when a server really calls it; a build or a watcher without one never does.
 */
export function installDevMiddleware(compiler: DevCompilerLike, middleware: Middleware, started: () => void): void {
  const { options } = compiler;
  if (options.devServer === undefined && options.mode !== "production") options.devServer = {};
  const targets = [options.devServer, ...(options.plugins ?? []).filter(isDevServerPlugin).map((plugin) => plugin.options)];
  for (const target of targets) {
    if (typeof target !== "object" || target === null) continue;
    const devServer = target as { setupMiddlewares?: SetupMiddlewares };
    const own = devServer.setupMiddlewares;
    devServer.setupMiddlewares = (middlewares, server) => {
      started();
      const list = own ? own(middlewares, server) : middlewares;
      // First: the images' URLs are the plugin's, before any fallback (historyApiFallback) answers them.
      return [{ name: "unplugin-imagegen", middleware }, ...list];
    };
  }
}

function isDevServerPlugin(plugin: unknown): plugin is { options: object } {
  const candidate = plugin as { setupMiddlewares?: unknown; options?: unknown } | null;
  return typeof candidate?.setupMiddlewares === "function" && typeof candidate.options === "object" && candidate.options !== null;
}

/**
 * A webpack or rspack watch build (webpack-dev-server, rspack's, Next's webpack dev server): a
 * module showing stand-ins is not cached, and a rebuild loads it again once its original is stored;
 * a failure is the rebuilt module's error (the terminal and the browser's overlay).
 */
export class WebpackDevHost implements DevHost {
  readonly root: string | undefined;
  readonly #compiler: DevCompilerLike;
  readonly #failures = new Map<string, Error>();

  constructor(compiler: DevCompilerLike, root: string | undefined) {
    this.#compiler = compiler;
    this.root = root;
  }

  /** webpack does not tell which modules a page still has: every one waiting is generated. */
  isLoaded(): boolean {
    return true;
  }

  reload(): void {
    this.#compiler.watching?.invalidate();
  }

  reportError(error: Error, spec: ImageSpec): void {
    this.#failures.set(originalKey(spec.generation), error);
  }

  /** The failure of `spec`'s background generation, once: its module fails with it, the next load tries again. */
  takeFailure(spec: ImageSpec): Error | undefined {
    const key = originalKey(spec.generation);
    const failure = this.#failures.get(key);
    this.#failures.delete(key);
    return failure;
  }
}
