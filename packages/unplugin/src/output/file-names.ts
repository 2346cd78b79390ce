import { type ImageSpec, type Variant, extensionOf } from "@imagegen/core";

/**
 * `assets/<slug>-<width>.<hash>.<ext>`: the hash is of the variant's bytes, so the name is the
 * same in every bundler, in client and SSR builds, and changes only when the image does.
 */
export function variantFileName(spec: ImageSpec, variant: Variant, assetsDir = "assets"): string {
  const name = `${promptSlug(spec.prompt)}-${variant.width}.${variant.hash.slice(0, 10)}.${extensionOf(variant.format)}`;
  return assetsDir ? `${assetsDir.replace(/\/+$/, "")}/${name}` : name;
}

/** A short ASCII slug of the prompt's first words, for readable file names. */
export function promptSlug(prompt: string): string {
  const slug = prompt
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 32)
    .replace(/-+$/, "");
  return slug || "image";
}

/** What the folder needs of Rollup's `output.assetFileNames` (a pattern, or a function of the asset). */
export type AssetFileNames = string | ((asset: { type: "asset"; name: string; names: string[]; originalFileName: null; originalFileNames: string[]; source: Uint8Array }) => string);

/**
 * The folder the bundler puts its own hashed assets in: the folder part of `assetFileNames`
 * (SvelteKit's `_app/immutable/assets`), else `fallback` (Vite's `build.assetsDir`). A folder
 * that depends on the asset (`[ext]/[name]…`) cannot hold every image alike: `fallback` then.
 */
export function assetsFolderOf(assetFileNames: AssetFileNames | undefined, fallback: string): string {
  let pattern: string | undefined;
  try {
    pattern =
      typeof assetFileNames === "function"
        ? assetFileNames({ type: "asset", name: "image.webp", names: ["image.webp"], originalFileName: null, originalFileNames: [], source: new Uint8Array() })
        : assetFileNames;
  } catch {
    pattern = undefined;
  }
  if (typeof pattern !== "string") return fallback;
  const slash = pattern.lastIndexOf("/");
  const folder = slash < 0 ? "" : pattern.slice(0, slash);
  return folder.includes("[") ? fallback : folder;
}
