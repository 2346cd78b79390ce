import type { Variant } from "@imagegen/core";

/** The small part of a bundler's plugin context that emitting needs. */
export interface EmitContext {
  emitFile(file: { type: "asset"; fileName: string; source: Uint8Array }): string | void;
  /** unplugin's way to reach the bundler's own context (webpack's and rspack's loader context). */
  getNativeBuildContext?(): unknown;
}

/**
 * How one bundler makes an image part of its output and writes its URL. Everything that
 * differs between bundlers lives behind this interface, one implementation each:
 * {@link fileUrlOutput} (Vite build, Rollup, Rolldown), `loaderAssetOutput` (webpack, rspack) and
 * `esbuildOutput` (esbuild). Vite's dev server emits nothing: `dev-server.ts` serves its images.
 */
export interface AssetOutput {
  /** Called when a build starts: forget what the previous build emitted (watch mode). */
  reset(): void;
  /**
   * Makes `fileName` (already content-hashed, `/`-separated, relative to the output folder) part
   * of this build and returns a JavaScript expression for its URL.
   */
  emit(context: EmitContext, fileName: string, variant: Variant): string;
  /**
   * Called with the finished bundle of an output (Rollup's `generateBundle`): drops the files of
   * images that tree-shaking removed from the code, so that only referenced images are written.
   */
  prune?(bundle: Record<string, OutputFileLike>): void;
}

/** What pruning reads of a Rollup or Rolldown output file. */
export interface OutputFileLike {
  type: "asset" | "chunk";
  code?: string;
  /** Rollup's list of files a chunk references through `import.meta.ROLLUP_FILE_URL_`; Rolldown has none. */
  referencedFiles?: readonly string[];
}

/** Rollup and Rolldown builds: emitted assets, URLs from `import.meta.ROLLUP_FILE_URL_<ref>`. */
export function fileUrlOutput(metaProperty: "ROLLUP_FILE_URL" | "ROLLDOWN_FILE_URL"): AssetOutput {
  // Rollup lists the files each chunk references this way (Rolldown does not).
  return emittedAssetOutput((reference) => `import.meta.${metaProperty}_${reference}`, true);
}

/**
 * Vite builds: emitted assets, URLs as Vite's own asset placeholders (`"__VITE_ASSET__<ref>__"`,
 * as in the module of an imported image, and vite-imagetools'), which Vite's asset plugin writes
 * in one pass over each chunk with `base` and `renderBuiltUrl` applied. A file URL instead cost a
 * call from the bundler into Vite's JavaScript for each one: 600 of them made the chunks of a
 * 200-image site render in 61 ms, against 32 ms for a static app of the same files.
 */
export function viteAssetOutput(): AssetOutput {
  return emittedAssetOutput((reference) => JSON.stringify(`__VITE_ASSET__${reference}__`), false);
}

function emittedAssetOutput(urlOf: (reference: string) => string, bundlerListsReferences: boolean): AssetOutput {
  let references = new Map<string, string>();
  return {
    reset() {
      references = new Map();
    },
    emit(context, fileName, variant) {
      let reference = references.get(fileName);
      if (!reference) {
        reference = context.emitFile({ type: "asset", fileName, source: variant.bytes }) || undefined;
        if (!reference) throw new Error(`imagegen: the bundler gave no reference for ${fileName}`);
        references.set(fileName, reference);
      }
      return urlOf(reference);
    },
    prune(bundle) {
      // Emitted while loading, before tree-shaking: keep the files some chunk still points at.
      // Rollup lists a chunk's file URLs; elsewhere the chunk's code holds the file name with its content hash.
      // Only the other files are looked at: Rolldown makes each file's JS object when it is first
      // read, and reading the 2,000 images of a site took 0.2 s of a warm build.
      const chunks = Object.keys(bundle)
        .filter((fileName) => !references.has(fileName))
        .map((fileName) => bundle[fileName]!)
        .filter((file) => file.type === "chunk");
      const listing = bundlerListsReferences ? chunks.filter((chunk) => chunk.referencedFiles) : [];
      const listed = new Set(listing.flatMap((chunk) => chunk.referencedFiles!));
      const unlisted = chunks.filter((chunk) => !listing.includes(chunk));
      // The words of each chunk's code, split once: 2,000 images each searched for in a chunk that
      // names them all took 0.16 s. A name found in no word is still searched for in the code.
      const words = unlisted.map((chunk) => new Set(chunk.code?.split(/[^\w.-]+/)));
      const isReferenced = (fileName: string) => {
        const name = fileName.slice(fileName.lastIndexOf("/") + 1);
        return listed.has(fileName) || words.some((set) => set.has(name)) || unlisted.some((chunk) => chunk.code?.includes(name));
      };
      for (const fileName of references.keys()) {
        if (fileName in bundle && !isReferenced(fileName)) delete bundle[fileName];
      }
    },
  };
}
