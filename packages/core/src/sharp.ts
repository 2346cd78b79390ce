import { crc32 } from "node:zlib";
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

/** Byte arrays that were checked whole in this process, with their metadata. */
const wholeImages = new WeakMap<Uint8Array, Metadata>();

/**
 * Throws if `bytes` stop short (a file cut short keeps a valid header) or were changed on the way.
 * A PNG, what the image APIs send, is checked by its chunks: each whole and matching its CRC, up
 * to the end chunk. That reads no pixel: decoding a 2K original down to its last row took 61 ms of
 * a core, and a build that generates 8 at a time on 2 cores sent its next requests late. Other
 * formats are decoded down to their last row, streamed with sequential read, one row kept. The
 * array is remembered ({@link checkedWholeImage}), so that the store does not check again what a
 * provider checked.
 */
export async function checkWholeImage(bytes: Uint8Array, metadata: Metadata): Promise<void> {
  if (metadata.format === "png") {
    const problem = pngChunkProblem(bytes);
    if (problem) throw new Error(problem);
  } else {
    const sharp = await loadSharp();
    const { width } = metadata;
    const height = metadata.pageHeight ?? metadata.height;
    if (!width || !height) throw new Error("no pixel size");
    await sharp(bytes, { sequentialRead: true }).extract({ left: 0, top: height - 1, width: 1, height: 1 }).raw().toBuffer();
  }
  wholeImages.set(bytes, metadata);
}

/** What is wrong with a PNG's chunks (after its 8-byte signature), or `undefined` when they run whole to IEND. */
function pngChunkProblem(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = 8; offset + 12 <= bytes.length; ) {
    const length = view.getUint32(offset);
    const crcAt = offset + 8 + length;
    if (crcAt + 4 > bytes.length) return `its chunk at byte ${offset} runs past the end of the file`;
    const typeAndData = bytes.subarray(offset + 4, crcAt);
    if (crc32(typeAndData) !== view.getUint32(crcAt)) return `its chunk at byte ${offset} does not match its CRC`;
    if (String.fromCharCode(...typeAndData.subarray(0, 4)) === "IEND") return undefined;
    offset = crcAt + 4;
  }
  return "it ends before its IEND chunk";
}

/**
 * The metadata of `bytes` when this very array was already checked whole in this
 * process (the onemin provider checks each download so as to retry a truncated one); `undefined`
 * for any other array, a copy included. A 4K original is thus decoded once, not twice.
 */
export function checkedWholeImage(bytes: Uint8Array): Metadata | undefined {
  return wholeImages.get(bytes);
}
