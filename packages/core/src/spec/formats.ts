import type { OutputFormat } from "./spec.js";

/**
 * Image formats by sharp's name, with the file extension and content type each gets: the one
 * table that store, derived cache and bundler output all name files from.
 */
export const IMAGE_FORMATS = {
  avif: { extension: "avif", contentType: "image/avif" },
  webp: { extension: "webp", contentType: "image/webp" },
  jpeg: { extension: "jpg", contentType: "image/jpeg" },
  png: { extension: "png", contentType: "image/png" },
  gif: { extension: "gif", contentType: "image/gif" },
  tiff: { extension: "tiff", contentType: "image/tiff" },
} as const satisfies Record<string, { extension: string; contentType: string }>;

/** A format an original may be stored in (what a provider may return). */
export type OriginalFormat = keyof typeof IMAGE_FORMATS;

export function isOriginalFormat(format: string | undefined): format is OriginalFormat {
  return format !== undefined && Object.hasOwn(IMAGE_FORMATS, format);
}

/** The extension of a format's files, without the dot: `jpeg` → `jpg`. */
export function extensionOf(format: OriginalFormat | OutputFormat): string {
  return IMAGE_FORMATS[format].extension;
}

/** The content type of a file by its extension (`hero.1a2b.jpg` → `image/jpeg`), else `application/octet-stream`. */
export function contentTypeOfFile(fileName: string): string {
  const extension = fileName.slice(fileName.lastIndexOf(".") + 1).toLowerCase();
  const format = Object.values(IMAGE_FORMATS).find((entry) => entry.extension === extension);
  return format?.contentType ?? "application/octet-stream";
}

/** The formats the image API takes as they are, recognised by their first bytes; `undefined` for any other. */
export function sniffInputFormat(bytes: Uint8Array): "png" | "jpeg" | "webp" | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes[0] === 0x89 && ascii(1, 4) === "PNG") return "png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  return undefined;
}
