import type { AssetOutput } from "./asset-output.js";

/** What this output uses of a webpack or rspack loader context. */
interface LoaderContextLike {
  emitFile(name: string, content: Buffer, sourceMap?: undefined, assetInfo?: Record<string, unknown>): void;
}

/** Where a webpack or rspack compilation writes images, when a framework decides (Next's `withImagegen`). */
export interface LoaderPlacement {
  /**
   * Prefix of every emitted name, relative to this compilation's output folder: `""` for the
   * client, `"../../"` for a server compilation that writes into the client's folder.
   * @default ""
   */
  emitPrefix?: string;
  /**
   * The URL of the client's output folder, ending in `/`, written into the code.
   * @default __webpack_public_path__ at run time
   */
  publicPath?: string;
}

/**
 * webpack and rspack: each image goes into the assets of the module that imports it, through the
 * loader context's `emitFile`, as file-loader did. The bundler keeps those assets with the
 * module, so a module served from the cache in a watch rebuild (whose `load` does not run again)
 * still emits its images, and `output.clean` keeps them. The URL is the runtime public path
 * (`output.publicPath`, `"auto"` included) followed by the file name.
 */
export function loaderAssetOutput({ emitPrefix = "", publicPath }: LoaderPlacement = {}): AssetOutput {
  return {
    reset() {},
    emit(context, fileName, variant) {
      const native = context.getNativeBuildContext?.() as { loaderContext?: LoaderContextLike } | undefined;
      const loader = native?.loaderContext;
      if (!loader) throw new Error(`imagegen: no loader context to emit ${fileName} with`);
      // The name carries the content hash: a browser or CDN may cache it forever.
      loader.emitFile(`${emitPrefix}${fileName}`, variant.bytes, undefined, { immutable: true });
      return publicPath === undefined ? `__webpack_public_path__ + ${JSON.stringify(fileName)}` : JSON.stringify(`${publicPath}${fileName}`);
    },
  };
}
