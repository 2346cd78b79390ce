import type { Metadata } from "sharp";

/** sharp's default export: the function that opens an image, with its process-wide settings. */
export type SharpModule = typeof import("sharp").default;

let loading: Promise<SharpModule> | undefined;

/**
 * sharp, imported on first use. A warm build decodes and encodes nothing, and importing sharp
 * (its native binding and libvips) costs a whole process 70–220 ms, more than the rest of a warm build.
 */
export function loadSharp(): Promise<SharpModule> {
  loading ??= import("sharp").then((module) => module.default);
  return loading;
}

/** Byte arrays that decoded down to their last row in this process, with their metadata. */
const wholeImages = new WeakMap<Uint8Array, Metadata>();

/**
 * Decodes `bytes` down to their last row and throws if they stop short: a file cut short keeps a
 * valid header. Streams with sequential read and keeps one row, so it costs a few ms where
 * decoding every pixel (`stats()`) cost ~80 ms of CPU for a 1K image. The array is remembered
 * ({@link checkedWholeImage}), so that the store does not decode again what a provider checked.
 */
export async function decodeToLastRow(bytes: Uint8Array, metadata: Metadata): Promise<void> {
  const sharp = await loadSharp();
  const { width } = metadata;
  const height = metadata.pageHeight ?? metadata.height;
  if (!width || !height) throw new Error("no pixel size");
  await sharp(bytes, { sequentialRead: true }).extract({ left: 0, top: height - 1, width: 1, height: 1 }).raw().toBuffer();
  wholeImages.set(bytes, metadata);
}

/**
 * The metadata of `bytes` when this very array already decoded down to its last row in this
 * process (the onemin provider checks each download so as to retry a truncated one); `undefined`
 * for any other array, a copy included. A 4K original is thus decoded once, not twice.
 */
export function checkedWholeImage(bytes: Uint8Array): Metadata | undefined {
  return wholeImages.get(bytes);
}
