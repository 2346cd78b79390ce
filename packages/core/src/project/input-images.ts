import { relativeInside } from "../spec/project-path.js";
import { readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { ImagegenError, formatLocation } from "../errors.js";
import { loadSharp } from "../sharp.js";
import { sniffInputFormat } from "../spec/formats.js";
import { sha256Hex } from "../spec/key.js";
import type { ImageSpec, InputImage } from "../spec/spec.js";

/**
 * Largest input file accepted. The 1min.ai Asset API documents no limit, so a larger file is
 * refused with its size rather than shrunk to a guess; 20 MB is Gemini's own limit on inline images.
 */
export const MAX_INPUT_BYTES = 20 * 1024 * 1024;

interface HashedFile {
  /** What changes when the bytes may have: `cp -p` keeps the size and mtime, never the ctime. */
  stamp: string;
  sha256: Promise<string>;
}

/** Per process, by file: a file used by many images is read once, and again when it changes (dev). */
const hashes = new Map<string, HashedFile>();

/**
 * Fills in the sha256 of each `edit` and `ref` file of a spec, so that its key can be computed.
 * A missing file, a folder, a file over {@link MAX_INPUT_BYTES}, one that does not decode as an image
 * or a link out of the root is an {@link ImagegenError} naming the parameter, the path and the import.
 */
export async function hashInputs(spec: ImageSpec, root: string): Promise<ImageSpec> {
  const inputs = spec.generation.inputs;
  if (!inputs?.length) return spec;
  const hashed = await Promise.all(inputs.map((input) => hashInput(input, spec, root)));
  return { ...spec, generation: { ...spec.generation, inputs: hashed } };
}

/** The real path of each project root, asked once per process (every image with inputs needs it). */
const realRoots = new Map<string, Promise<string>>();
function realRoot(root: string): Promise<string> {
  let real = realRoots.get(root);
  if (!real) realRoots.set(root, (real = realpath(root).catch(() => root)));
  return real;
}

async function hashInput(input: InputImage, spec: ImageSpec, root: string): Promise<InputImage> {
  const fail = (problem: string, cause?: unknown) =>
    new ImagegenError(`${formatLocation(spec.source)}: ${input.role} "${input.written}" ${problem}`, {
      location: spec.source,
      cause,
    });
  let info;
  let real: string;
  try {
    [info, real] = await Promise.all([stat(input.file), realpath(input.file)]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw fail(`does not exist (looked for ${input.path})`);
    throw fail(`cannot be read (${code ?? String(error)})`, error);
  }
  if (!info.isFile()) throw fail(`is not a file (${input.path})`);
  if (relativeInside(await realRoot(root), real) === undefined) {
    throw fail(`links outside the project root (to ${real}); use an image file inside the project`);
  }
  if (info.size > MAX_INPUT_BYTES) {
    const megabytes = (info.size / 1024 / 1024).toFixed(1);
    throw fail(`is ${megabytes} MB (${info.size} bytes); an input may be at most ${MAX_INPUT_BYTES} bytes (20 MB): make it smaller`);
  }

  let known = hashes.get(real);
  const stamp = `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
  if (!known || known.stamp !== stamp) {
    const sha256 = readImageHash(real);
    known = { stamp, sha256 };
    hashes.set(real, known);
    sha256.catch(() => hashes.delete(real));
  }
  try {
    return { ...input, sha256: await known.sha256 };
  } catch (error) {
    throw fail(`is not an image (${error instanceof Error ? error.message : String(error)}); use a PNG, JPEG or WebP file`, error);
  }
}

/**
 * The bytes' sha256, once they are known to be an image: PNG, JPEG and WebP by their first bytes
 * (a warm build loads no sharp), any other format by decoding its header with sharp.
 */
async function readImageHash(file: string): Promise<string> {
  const bytes = await readFile(file);
  if (sniffInputFormat(bytes) === undefined) {
    const sharp = await loadSharp();
    const { width, height } = await sharp(bytes).metadata();
    if (!width || !height) throw new Error("no pixel size");
  }
  return sha256Hex(bytes);
}
