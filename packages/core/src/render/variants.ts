import type { Sharp } from "sharp";
import { type SharpModule, loadSharp } from "../sharp.js";
import { sha256Hex } from "../spec/key.js";
import { type RenderPool, sharedRenderPool } from "./render-pool.js";
import { type LocalFile, type RenderProcess, type RenderWork, renderProcess } from "./render-process.js";
import type { OutputFormat, OutputParams } from "../spec/spec.js";

/** One encoded file of a rendition. */
export interface Variant {
  format: OutputFormat;
  width: number;
  height: number;
  bytes: Buffer;
  /** sha256 hex of `bytes`: callers name files with it and never hash again. */
  hash: string;
}

/** Everything sharp makes of one original for one set of output parameters. */
export interface Rendition {
  /** For each format in `output.formats` order, each width ascending. */
  variants: Variant[];
  /** Pixel size of the largest variant of the fallback (last) format. */
  width: number;
  height: number;
  /** A tiny blurred `data:` URL, or `undefined` for `placeholder: "none"`. */
  placeholder: string | undefined;
}

/**
 * The rendition with its variants in `formats` order (each width ascending, as `renderVariants`
 * makes them): one cached rendition serves every order the formats are written in.
 */
export function inFormatOrder(rendition: Rendition, formats: readonly string[]): Rendition {
  const rank = (variant: Variant) => formats.indexOf(variant.format);
  const variants = [...rendition.variants].sort((a, b) => rank(a) - rank(b) || a.width - b.width);
  return { ...rendition, variants };
}

interface Size {
  width: number;
  height: number;
}

interface Decoded {
  pixels: Buffer;
  raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 };
}

const PLACEHOLDER_WIDTH = 16;
const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };
const TRANSPARENT = { r: 0, g: 0, b: 0, alpha: 0 };

/** Each format's encoder settings; `quality` (1–100) overrides the format's own default. */
const ENCODERS: Record<OutputFormat, (image: Sharp, quality: number | undefined) => Sharp> = {
  avif: (image, quality) => image.avif({ quality: quality ?? 50, effort: 4 }),
  webp: (image, quality) => image.webp({ quality: quality ?? 80, effort: 4 }),
  jpeg: (image, quality) => image.jpeg({ quality: quality ?? 80, mozjpeg: true }),
  // PNG is lossless; as in sharp, asking for a quality means a quantised palette image.
  png: (image, quality) =>
    quality === undefined
      ? image.png({ compressionLevel: 9, adaptiveFiltering: false })
      : image.png({ compressionLevel: 9, palette: true, quality }),
};

/** An original to render without holding its bytes longer than needed: the engine's `OriginalRef`. */
export interface OriginalSource {
  /** Pixel size (after EXIF orientation): what decoding it will hold in memory. */
  width: number;
  height: number;
  load(): Promise<Buffer>;
  /** Brings the bytes within reach (a download into the local store) before memory and a pipeline are reserved. */
  ready?(): Promise<void>;
  /**
   * Where the bytes are in the local store, and their sha256: the render process reads and checks
   * them itself rather than being sent them (`load` is still called if they do not check out).
   */
  localFile?(): Promise<LocalFile>;
}

/**
 * Resizes, crops and re-encodes an original (SPEC §2 output parameters). The original is
 * decoded once and each size is resized once (every format of a width is encoded from the same
 * frame); nothing is ever upscaled, and the output carries no metadata (sharp's default:
 * stripped, converted to sRGB).
 *
 * Memory is bounded by the pool's budget, in bytes: the original's pixels and its frames are
 * reserved before decoding, the original's part is given back as soon as the frames are made
 * (a 4K original is held for a second, not for the minutes its AVIFs take), the frames' part when
 * the last variant is encoded. The decode and each encode take one of the pool's pipelines, so
 * variants of several originals share the cores. On Linux, an original above 8 megapixels is
 * rendered the same way in the render process (render-process.ts), whose freed memory goes back to
 * the system, while it holds every pipeline of this process.
 */
export async function renderVariants(
  original: Buffer | OriginalSource,
  output: OutputParams,
  pool?: RenderPool,
): Promise<Rendition> {
  const source = await sourceOf(original);
  const large = pipelineFor(source);
  const apart = renderProcessFor(source);
  if (apart) return inRenderProcess(apart, source, { kind: "renderVariants", output }, pool);
  // A download holds neither memory nor a pipeline: they are reserved once the bytes are here.
  await source.ready?.();
  const sharp = await loadSharp();
  pool ??= sharedRenderPool(sharp);
  // RGBA at most: the channels are known only once decoded.
  const originalBytes = source.width * source.height * 4;
  const frameBytes = sum(variantSizes(source, output).map((size) => size.width * size.height * 4));
  const budget = await pool.reserve(originalBytes + frameBytes);
  try {
    const { sizes, frames, placeholder } = await pool.pipeline(async () => {
      // The encoded bytes and the decoded pixels live only inside this pipeline.
      const decoded = await decode(sharp, await source.load());
      const sizes = variantSizes(decoded.raw, output);
      const frames = new Map<string, Frame>();
      for (const format of output.formats) {
        for (const size of sizes) {
          const key = frameKey(size, format);
          if (!frames.has(key)) frames.set(key, await makeFrame(sharp, decoded, size, output, format));
        }
      }
      const placeholder = output.placeholder === "blur" ? await blurPlaceholder(sharp, decoded, output) : undefined;
      return { sizes, frames, placeholder };
    }, large);
    budget.release(originalBytes);

    const jobs = output.formats.flatMap((format) => sizes.map((size) => ({ format, size })));
    // Longest first, so that a slow AVIF does not start last and leave the other cores idle.
    const order = [...jobs].sort((a, b) => cost(b.format, b.size) - cost(a.format, a.size));
    const encoded = new Map(
      order.map((job) => [
        job,
        pool.pipeline(async (): Promise<Variant> => {
          const frame = frames.get(frameKey(job.size, job.format))!;
          return { format: job.format, ...job.size, ...(await encodeFrame(sharp, frame, job.format, output.quality)) };
        }, large),
      ]),
    );
    const variants = await Promise.all(jobs.map((job) => encoded.get(job)!));
    const largest = sizes.at(-1)!;
    return { variants, width: largest.width, height: largest.height, placeholder };
  } finally {
    budget.release();
  }
}

/** One variant that {@link renderVariants} would make, before any encoding. */
export interface PlannedVariant {
  format: OutputFormat;
  width: number;
  height: number;
}

/**
 * The variants of a rendition, from the original's pixel size alone (its metadata, no decode):
 * for each format in `output.formats` order, each width ascending, as `renderVariants` makes them.
 */
export function planVariants(original: Size, output: OutputParams): PlannedVariant[] {
  const sizes = variantSizes(original, output);
  return output.formats.flatMap((format) => sizes.map((size) => ({ format, ...size })));
}

/**
 * Encodes one variant of a rendition (the dev server's variant asked for by a browser): the same
 * bytes as the matching variant of `renderVariants`, without making the others.
 */
export async function renderVariant(
  original: Buffer | OriginalSource,
  output: OutputParams,
  planned: PlannedVariant,
  pool?: RenderPool,
): Promise<Variant> {
  const source = await sourceOf(original);
  const apart = renderProcessFor(source);
  if (apart) return inRenderProcess(apart, source, { kind: "renderVariant", output, planned }, pool);
  const bytes = (source.width * source.height + planned.width * planned.height) * 4;
  return withDecoded(source, bytes, pool, async (sharp, decoded) => {
    const size = { width: planned.width, height: planned.height };
    const frame = await makeFrame(sharp, decoded, size, output, planned.format);
    return { ...planned, ...(await encodeFrame(sharp, frame, planned.format, output.quality)) };
  });
}

/** The blurred placeholder of `renderVariants` alone (`undefined` for `placeholder: "none"`). */
export async function renderPlaceholder(
  original: Buffer | OriginalSource,
  output: OutputParams,
  pool?: RenderPool,
): Promise<string | undefined> {
  if (output.placeholder !== "blur") return undefined;
  const source = await sourceOf(original);
  const apart = renderProcessFor(source);
  if (apart) return inRenderProcess(apart, source, { kind: "renderPlaceholder", output }, pool);
  return withDecoded(source, source.width * source.height * 4, pool, (sharp, decoded) => blurPlaceholder(sharp, decoded, output));
}

/** The render process, for an original large enough to render there (see render-process.ts). */
function renderProcessFor(source: OriginalSource): RenderProcess | undefined {
  return pipelineFor(source).alone ? renderProcess() : undefined;
}

/**
 * The work of a large original done in the render process, holding every pipeline of this one
 * meanwhile: this process neither imports sharp for it nor holds its bytes, unless they must be sent.
 */
async function inRenderProcess<W extends RenderWork>(apart: RenderProcess, source: OriginalSource, work: W, pool: RenderPool | undefined) {
  // A download holds no pipeline: it is taken once the bytes are here.
  await source.ready?.();
  return (pool ?? sharedRenderPool()).pipeline(async () => apart.render(source, work), { alone: true });
}

/**
 * Runs `work` on the decoded pixels of `original` in one of the pool's pipelines, with `bytes` of
 * its memory budget held meanwhile: one variant or one placeholder alone (the dev server).
 */
async function withDecoded<T>(
  original: OriginalSource,
  bytes: number,
  pool: RenderPool | undefined,
  work: (sharp: SharpModule, decoded: Decoded) => Promise<T>,
): Promise<T> {
  const sharp = await loadSharp();
  pool ??= sharedRenderPool(sharp);
  await original.ready?.();
  const budget = await pool.reserve(bytes);
  try {
    return await pool.pipeline(async () => work(sharp, await decode(sharp, await original.load())), pipelineFor(original));
  } finally {
    budget.release();
  }
}

/** A frame encoded in `format`, with the sha256 that names its file. */
async function encodeFrame(sharp: SharpModule, { pixels, raw }: Frame, format: OutputFormat, quality: number | undefined): Promise<{ bytes: Buffer; hash: string }> {
  const bytes = await ENCODERS[format](sharp(pixels, { raw }), quality).toBuffer();
  return { bytes, hash: sha256Hex(bytes) };
}

/** Originals above this many pixels (a 4K one has 16.8 million, a 2K one 4.2) are rendered alone. */
const LARGE_ORIGINAL_PIXELS = 8_000_000;

/**
 * How the work of an original runs in the pool: a large one alone, on every core, since two 4K
 * encodes side by side hold a third more memory for 16 % less time; smaller ones side by side,
 * where running alone would cost 15–20 % of the time and save little.
 */
function pipelineFor(original: Size): { alone: boolean } {
  return { alone: original.width * original.height > LARGE_ORIGINAL_PIXELS };
}

/** Resized (and cropped or letterboxed) pixels, ready to encode. */
type Frame = Decoded;

/** Formats share a frame except JPEG, whose transparent areas and letterbox bands become white. */
function frameKey(size: Size, format: OutputFormat): string {
  return `${size.width}x${size.height}${format === "jpeg" ? ":white" : ""}`;
}

async function makeFrame(
  sharp: SharpModule,
  decoded: Decoded,
  size: Size,
  output: OutputParams,
  format: OutputFormat,
): Promise<Frame> {
  const resized = size.width !== decoded.raw.width || size.height !== decoded.raw.height;
  if (!resized && format !== "jpeg") return decoded;
  const { data: pixels, info } = await frame(sharp, decoded, size, output, format).raw().toBuffer({ resolveWithObject: true });
  return { pixels, raw: { width: info.width, height: info.height, channels: info.channels } };
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

async function sourceOf(original: Buffer | OriginalSource): Promise<OriginalSource> {
  return Buffer.isBuffer(original) ? bufferSource(await loadSharp(), original) : original;
}

async function bufferSource(sharp: SharpModule, bytes: Buffer): Promise<OriginalSource> {
  // The header only: no decoding.
  const { autoOrient } = await sharp(bytes).metadata();
  return { width: autoOrient.width, height: autoOrient.height, load: async () => bytes };
}

async function decode(sharp: SharpModule, bytes: Buffer): Promise<Decoded> {
  const { data: pixels, info } = await sharp(bytes).autoOrient().toColourspace("srgb").raw().toBuffer({
    resolveWithObject: true,
  });
  return { pixels, raw: { width: info.width, height: info.height, channels: info.channels } };
}

/** Relative encoding time: AVIF costs several times WebP or JPEG for the same pixels. */
function cost(format: OutputFormat, size: Size): number {
  return size.width * size.height * (format === "avif" ? 8 : format === "png" ? 2 : 1);
}

/**
 * Pixel sizes of the variants, ascending. A width beyond the (cropped) original is clamped to
 * it, and widths that end up equal are made once.
 */
function variantSizes(original: Size, output: OutputParams): Size[] {
  const frameSize = framedSize(original, output);
  const widths = output.widths?.length ? output.widths : [frameSize.width];
  const sizes = new Map<number, Size>();
  for (const width of widths) {
    const size = scaledSize(original, frameSize, width, output);
    if (!sizes.has(size.width)) sizes.set(size.width, size);
  }
  return [...sizes.values()].sort((a, b) => a.width - b.width);
}

/** The size of the picture before scaling: the aspect crop (cover), the letterboxed canvas (contain), or the original. */
function framedSize(original: Size, output: OutputParams): Size {
  const { aspect, fit } = output;
  if (!aspect || fit === "inside") return original;
  const ratio = aspect.width / aspect.height;
  const wider = original.width / original.height > ratio;
  // cover keeps the short side, contain the long one.
  if (wider === (fit === "cover")) {
    return { width: Math.max(1, Math.round(original.height * ratio)), height: original.height };
  }
  return { width: original.width, height: Math.max(1, Math.round(original.width / ratio)) };
}

function scaledSize(original: Size, frameSize: Size, width: number, output: OutputParams): Size {
  if (output.aspect && output.fit === "inside") {
    // Fit within a box `width` wide of the aspect ratio, uncropped.
    const boxHeight = (width * output.aspect.height) / output.aspect.width;
    const scale = Math.min(width / original.width, boxHeight / original.height, 1);
    return {
      width: Math.max(1, Math.round(original.width * scale)),
      height: Math.max(1, Math.round(original.height * scale)),
    };
  }
  const clamped = Math.min(width, frameSize.width);
  return { width: clamped, height: Math.max(1, Math.round((clamped * frameSize.height) / frameSize.width)) };
}

/** A pipeline from the decoded pixels to exactly `size`, cropped or letterboxed per `fit`. */
function frame(
  sharp: SharpModule,
  decoded: Decoded,
  size: Size,
  output: OutputParams,
  format: OutputFormat | "placeholder",
): Sharp {
  let image = sharp(decoded.pixels, { raw: decoded.raw });
  // JPEG has no alpha: transparent areas and letterbox bands become white, not black.
  const background = format === "jpeg" ? WHITE : TRANSPARENT;
  if (size.width !== decoded.raw.width || size.height !== decoded.raw.height) {
    const fit = output.aspect && output.fit !== "inside" ? output.fit : "fill";
    // Centre, not "attention": every width of a srcset must show the same crop.
    image = image.resize(size.width, size.height, { fit, position: "centre", background });
  }
  if (format === "jpeg") image = image.flatten({ background: WHITE });
  return image;
}

/** A ~16px-wide blurred WebP of the same framing as the variants, well under 1 KB as a data URL. */
async function blurPlaceholder(sharp: SharpModule, decoded: Decoded, output: OutputParams): Promise<string> {
  const frameSize = framedSize(decoded.raw, output);
  const width = Math.min(PLACEHOLDER_WIDTH, frameSize.width);
  const size = { width, height: Math.max(1, Math.round((width * frameSize.height) / frameSize.width)) };
  const bytes = await frame(sharp, decoded, size, output, "placeholder").blur(1).webp({ quality: 40, effort: 6 }).toBuffer();
  return `data:image/webp;base64,${bytes.toString("base64")}`;
}
