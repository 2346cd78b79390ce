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
