// Turbopack has no virtual modules: imagegen's modules and variants are the files of
// `next-image/` (shipped with the package) read with a query that says which image they are.
// A variant's bytes come from its loader, so Next hashes and serves them itself and nothing is
// written where Turbopack looks for files (it does not see a folder made during its build).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type OutputFormat, type PlannedVariant, extensionOf } from "@imagegen/core";

/** Where an image is declared: a `gen:` import in a file, or a name in a manifest. */
export type ImageSource = { kind: "gen"; id: string; importer: string } | { kind: "manifest"; file: string; name: string };

/** What a `next-image/` file read with a query stands for. */
export interface ImageRequest {
  source: ImageSource;
  /** The one variant asked for (absent for a `gen:` module). */
  variant?: { width: number; format: OutputFormat };
  /** A stand-in of the variant (the dev server, while the original is generated). */
  standIn: boolean;
}

/** The folder of the files Turbopack is given: `<package>/next-image/`. */
export const NEXT_IMAGE_DIR = fileURLToPath(new URL("../next-image/", import.meta.url));

/** The glob of `next.config`'s `turbopack.rules` that holds the `gen:` module. */
export const MODULE_GLOB = "**/next-image/imagegen.js";
/** The glob of the variants and stand-ins: one file per extension, so that Next serves each with its type. */
export const VARIANT_GLOB = "**/next-image/imagegen.{avif,webp,jpg,png,svg}";

/** The specifier of the `gen:` module of `id`, as written in `importer`. */
export function genModuleSpecifier(id: string, importer: string): string {
  return `${relativeSpecifier(importer, "imagegen.js")}?${sourceQuery({ kind: "gen", id, importer })}`;
}

/** The specifier of a variant (or its stand-in), as written in the module at `from`. */
export function variantSpecifier(from: string, source: ImageSource, planned: PlannedVariant, standIn: boolean): string {
  const extension = standIn ? "svg" : extensionOf(planned.format);
  const query = new URLSearchParams({ w: String(planned.width), f: planned.format });
  if (standIn) query.set("standin", "");
  return `${relativeSpecifier(from, `imagegen.${extension}`)}?${sourceQuery(source)}&${query}`;
}

/** Reads a `next-image/` file's query back (`this.resourceQuery` of its loader). */
export function parseImageRequest(resourceQuery: string): ImageRequest {
  const query = new URLSearchParams(resourceQuery.replace(/^\?/, ""));
  const get = (name: string) => {
    const value = query.get(name);
    if (value === null) throw new Error(`imagegen: the request ${resourceQuery} has no ${name}`);
    return value;
  };
  const source: ImageSource = query.has("gen")
    ? { kind: "gen", id: get("gen"), importer: get("from") }
    : { kind: "manifest", file: get("manifest"), name: get("image") };
  const variant = query.has("w") ? { width: Number(get("w")), format: get("f") as OutputFormat } : undefined;
  return { source, ...(variant && { variant }), standIn: query.has("standin") };
}

function sourceQuery(source: ImageSource): string {
  const query: Record<string, string> =
    source.kind === "gen" ? { gen: source.id, from: source.importer } : { manifest: source.file, image: source.name };
  return new URLSearchParams(query).toString();
}

/** A relative specifier from the file `from` to a file of `next-image/` (Turbopack refuses absolute ones). */
function relativeSpecifier(from: string, fileName: string): string {
  const relative = path.relative(path.dirname(from), path.join(NEXT_IMAGE_DIR, fileName)).split(path.sep).join("/");
  return relative.startsWith(".") ? relative : `./${relative}`;
}
