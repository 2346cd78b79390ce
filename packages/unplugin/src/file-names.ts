import type { ImageSpec, Variant } from "@imagegen/core";

const EXTENSIONS = { avif: "avif", webp: "webp", jpeg: "jpg", png: "png" } as const;

/**
 * `assets/<slug>-<width>.<hash>.<ext>`: the hash is of the variant's bytes, so the name is the
 * same in every bundler, in client and SSR builds, and changes only when the image does.
 */
export function variantFileName(spec: ImageSpec, variant: Variant, assetsDir = "assets"): string {
  const name = `${promptSlug(spec.prompt)}-${variant.width}.${variant.hash.slice(0, 10)}.${EXTENSIONS[variant.format]}`;
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

export const CONTENT_TYPES = {
  avif: "image/avif",
  webp: "image/webp",
  jpg: "image/jpeg",
  png: "image/png",
} as const;
