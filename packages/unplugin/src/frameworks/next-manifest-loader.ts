import { stat } from "node:fs/promises";
import path from "node:path";
import { Engine, ImagegenError, hashInputs, parseManifest, resolveOptions, resolveProjectRoot, resolveSpec, writeFileAtomic } from "@imagegen/core";
import { variantFileName } from "../output/file-names.js";
import { manifestModuleCode } from "../module/module-code.js";
import { type TurbopackImagegenOptions, turbopackImagesDir } from "./next.js";

interface LoaderContextLike {
  resourcePath: string;
  rootContext?: string;
  getOptions(): TurbopackImagegenOptions;
  async(): (error: Error | null, code?: string) => void;
}

/** One engine per project root in a loader process: manifests of one build share its store and lock. */
const engines = new Map<string, Promise<Engine>>();

/**
 * Turbopack, for `*.prompts.yaml`: renders every image of the manifest into
 * `node_modules/.cache/imagegen/next/` (made by `withImagegen`) and returns JavaScript that imports those files. Turbopack treats them as image
 * imports: it hashes them into `/_next/static/media/` and gives their URLs.
 */
export default function imagegenManifestLoader(this: LoaderContextLike, source: string): void {
  const callback = this.async();
  renderManifest(this, source).then(
    (code) => callback(null, code),
    (error: unknown) => {
      if (!(error instanceof ImagegenError)) return callback(error as Error);
      const plain = new Error(error.message);
      plain.stack = error.message;
      callback(plain);
    },
  );
}

async function renderManifest(loader: LoaderContextLike, source: string): Promise<string> {
  const file = loader.resourcePath;
  const { providerLeftBehind, ...options } = loader.getOptions() ?? {};
  const root = resolveProjectRoot(options.root, loader.rootContext ?? path.dirname(file));
  let engine = engines.get(root);
  if (!engine) engines.set(root, (engine = resolveOptions({ ...options, root }).then((resolved) => new Engine(resolved))));
  const ready = await engine;
  const resolved = ready.options;
  if (providerLeftBehind !== undefined && resolved.provider.id !== providerLeftBehind) {
    throw new ImagegenError(
      `withImagegen(nextConfig, { provider }) gave ${providerLeftBehind}, an object that cannot reach Turbopack's loader (its options are JSON): ` +
        "set provider in imagegen.config.ts, which the loader reads, or build with `next build --webpack`.",
    );
  }

  const manifest = parseManifest(source, file);
  const images = await Promise.all(
    manifest.images.map(async (image) => {
      // `edit=` and `ref=` inputs are read and hashed into the key, as the bundler plugin does.
      const spec = await hashInputs(resolveSpec(image.options, { ...resolved, source: image.location }), root);
      return { name: image.name, exportName: image.exportName, image: await ready.resolveImage(spec) };
    }),
  );

  const folder = turbopackImagesDir(root);
  const imports: string[] = [];
  const writes: Promise<void>[] = [];
  const code = manifestModuleCode(images, (variant, spec) => {
    const fileName = variantFileName(spec, variant, "");
    const target = path.join(folder, fileName);
    writes.push(writeIfMissing(target, variant.bytes));
    let specifier = path.relative(path.dirname(file), target).split(path.sep).join("/");
    if (!specifier.startsWith(".")) specifier = `./${specifier}`;
    // Names a manifest's camelCase exports cannot take (an image named "url-of" or "variant-0" would clash).
    const name = `__imagegenVariant${imports.length}`;
    imports.push(`import ${name} from ${JSON.stringify(specifier)};`);
    return `__imagegenUrlOf(${name})`;
  });
  await Promise.all(writes);
  // An image import is `{ src, width, height }` in Next's server code and a URL string in some client code.
  const urlOf = 'const __imagegenUrlOf = (image) => (typeof image === "string" ? image : image.src);';
  return `${imports.join("\n")}\n${urlOf}\n${code}`;
}

/** The name holds the content hash: a file of that name and size is this variant already. */
async function writeIfMissing(target: string, bytes: Uint8Array): Promise<void> {
  const existing = await stat(target).catch(() => undefined);
  if (existing?.size !== bytes.byteLength) await writeFileAtomic(target, bytes);
}
