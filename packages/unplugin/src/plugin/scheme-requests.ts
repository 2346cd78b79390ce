import { isGenId } from "@imagegen/core";

/** What this uses of a webpack or rspack compiler. */
export interface CompilerLike {
  hooks: {
    normalModuleFactory: {
      tap(name: string, callback: (factory: NormalModuleFactoryLike) => void): void;
    };
  };
}

interface NormalModuleFactoryLike {
  hooks: {
    beforeResolve: {
      tap(name: string, callback: (data: { request: string; contextInfo: { issuer: string } }) => void): void;
    };
  };
}

/**
 * webpack (and rspack after it) reads a request shaped like `scheme:…` as a URL and fails with
 * `UnhandledSchemeError` before any resolver plugin runs. A `gen:` request is swapped for its
 * virtual module id before resolution starts, so users write the same `gen:` imports as in Vite.
 */
export function rewriteGenRequests(
  compiler: CompilerLike,
  pluginName: string,
  toVirtualId: (id: string, importer: string | undefined) => string,
): void {
  compiler.hooks.normalModuleFactory.tap(pluginName, (factory) => {
    factory.hooks.beforeResolve.tap(pluginName, (data) => {
      if (isGenId(data.request)) data.request = toVirtualId(data.request, data.contextInfo.issuer || undefined);
    });
  });
}
