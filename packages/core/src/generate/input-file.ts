import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { loadSharp } from "../sharp.js";
import { IMAGE_FORMATS, sniffInputFormat } from "../spec/formats.js";
import { sha256Hex } from "../spec/key.js";
import type { InputImage } from "../spec/spec.js";
import { ProviderError } from "./provider.js";

/** An input file as an image API takes it: its bytes, content type and file name. */
export interface InputFile {
  bytes: Buffer;
  /** `image/png`, `image/jpeg` or `image/webp`. */
  type: string;
  name: string;
}

/**
 * Reads an `edit`/`ref` file for sending (SPEC §12), checked against the sha256 its key was made
 * with. PNG, JPEG and WebP go as they are; another format sharp reads (AVIF, GIF, TIFF, SVG) goes
 * as a PNG, which every image API takes.
 */
export async function readInputFile(input: InputImage): Promise<InputFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(input.file);
  } catch (cause) {
    throw new ProviderError(`Could not read ${input.role} ${input.path}: ${(cause as Error).message}`, { retryable: false, cause });
  }
  if (sha256Hex(bytes) !== input.sha256) {
    throw new ProviderError(`${input.role} ${input.path} changed while imagegen was running; run it again`, { retryable: false });
  }
  const format = sniffInputFormat(bytes);
  const name = basename(input.path);
  if (format !== undefined) return { bytes, type: IMAGE_FORMATS[format].contentType, name };
  const png = await (await loadSharp())(bytes).png().toBuffer();
  return { bytes: png, type: "image/png", name: `${name.replace(/\.[^.]*$/, "")}.png` };
}
