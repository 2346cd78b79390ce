import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import sharp, { type Sharp } from "sharp";

export const IMAGE_SIZES = ["1K", "2K", "4K"] as const;
export type ImageSize = (typeof IMAGE_SIZES)[number];

/** Pixel edge of a 1:1 answer, as the model documents it. */
export const SIZE_PIXELS: Record<ImageSize, number> = { "1K": 1024, "2K": 2048, "4K": 4096 };

/** A validated `promptObject`, defaults applied: the only input of a rendered image. */
export interface PromptObject {
  prompt: string;
  imageSize: ImageSize;
  temperature: number;
  topP: number;
  /** `IMAGE_EDITOR` only: asset paths of the image to edit and of its references. */
  imageUrl?: string;
  referenceImage1?: string;
  referenceImage2?: string;
  /**
   * Which generation of this very request it is, from 0 (the emulator's, not the API's): the same
   * prompt asked again gives another image, as the real model does, deterministic by request order.
   */
  take?: number;
}

/** Hex sha256 of the prompt object, fields in a fixed order so equal requests hash equally. */
export function hashPromptObject(promptObject: PromptObject): string {
  const { prompt, imageSize, temperature, topP, imageUrl, referenceImage1, referenceImage2, take = 0 } = promptObject;
  const fields: unknown[] = [prompt, imageSize, temperature, topP];
  if (imageUrl !== undefined) fields.push(imageUrl, referenceImage1 ?? null, referenceImage2 ?? null);
  // The first take hashes as every request did before takes: its image is the one it always was.
  if (take > 0) fields.push({ take });
  return createHash("sha256").update(JSON.stringify(fields)).digest("hex");
}

/** The bytes of an uploaded asset, by the path the Asset API gave it. */
export type AssetBytes = (path: string) => Buffer | undefined;

/** Everything a rendered image depends on: equal pictures render to equal bytes. */
export interface Picture {
  /** Hex sha256 of the request it answers: it seeds the colours and the shapes. */
  hash: string;
  width: number;
  height: number;
  /** The banner's text. */
  caption: string;
  /** An edit: the image to edit covers the picture, lightly tinted, and each reference is an inset. */
  edit?: Buffer;
  references?: Buffer[];
  /** @default "png" */
  format?: "png" | "jpeg" | "webp";
  /** A generated scene without its sky: a transparent background (GPT Image's `background: "transparent"`). */
  transparent?: boolean;
  /** A generated PNG with a photograph's grain, as heavy as a real one (the emulator's `grain` option). */
  grain?: boolean;
}

/** Renders each image once; keeps the most recent ones because a 4K PNG takes a moment. */
export class ImageRenderer {
  readonly #cache = new Map<string, Promise<Buffer>>();
  readonly #capacity: number;
  readonly #assets: AssetBytes;
  readonly #grain: boolean;

  constructor(assets: AssetBytes = () => undefined, { capacity = 16, grain = false }: { capacity?: number; grain?: boolean } = {}) {
    this.#assets = assets;
    this.#capacity = capacity;
    this.#grain = grain;
  }

  /** The image of a 1min.ai feature request: a square of the documented pixel size. */
  render(promptObject: PromptObject): Promise<Buffer> {
    const hash = hashPromptObject(promptObject);
    const pixels = SIZE_PIXELS[promptObject.imageSize];
    const take = promptObject.take ?? 0;
    const what = `${promptObject.imageSize}${takeLabel(take)}`;
    const caption = `${promptObject.imageUrl === undefined ? "" : "edit: "}${captionOf(promptObject.prompt, what)}`;
    return this.#cached(hash, () => {
      if (promptObject.imageUrl === undefined) return renderPicture({ hash, width: pixels, height: pixels, caption, grain: this.#grain });
      const bytesOf = (path: string) => {
        const bytes = this.#assets(path);
        if (bytes === undefined) throw new Error(`asset ${path} is gone`);
        return bytes;
      };
      const references = [promptObject.referenceImage1, promptObject.referenceImage2].filter((path) => path !== undefined).map(bytesOf);
      return renderPicture({ hash, width: pixels, height: pixels, caption, edit: bytesOf(promptObject.imageUrl), references });
    });
  }

  /** Any picture (the Google and OpenAI APIs' answers), cached by its hash and format. */
  renderPicture(picture: Picture): Promise<Buffer> {
    const key = `${picture.hash}.${picture.format ?? "png"}${picture.transparent ? ".alpha" : ""}`;
    return this.#cached(key, () => renderPicture({ grain: this.#grain, ...picture }));
  }

  #cached(key: string, render: () => Promise<Buffer>): Promise<Buffer> {
    let image = this.#cache.get(key);
    if (image === undefined) {
      image = Promise.resolve().then(render);
      image.catch(() => this.#cache.delete(key));
    } else {
      this.#cache.delete(key);
    }
    this.#cache.set(key, image);
    for (const oldest of this.#cache.keys()) {
      if (this.#cache.size <= this.#capacity) break;
      this.#cache.delete(oldest);
    }
    return image;
  }
}

/** The picture's encoded bytes: a generated scene (with grain, if asked), or an edit that visibly comes from its input. */
export async function renderPicture(picture: Picture): Promise<Buffer> {
  if (picture.edit === undefined && picture.grain && (picture.format ?? "png") === "png" && !picture.transparent) {
    return grainy(Buffer.from(pictureSvg(picture)), picture.width, picture.height, picture.hash);
  }
  const image = picture.edit === undefined ? sharp(Buffer.from(pictureSvg(picture))) : await editedImage(picture);
  // Level 6 keeps a 4K render well under a second; nobody needs the emulator's PNGs small.
  if (picture.format === "jpeg") return image.jpeg({ quality: 90 }).toBuffer();
  if (picture.format === "webp") return image.webp({ quality: 90 }).toBuffer();
  return image.png({ compressionLevel: 6 }).toBuffer();
}

/**
 * A photograph's weight at a photograph's price: one grainy picture per pixel size (3 bits of
 * noise a channel, from a tile longer than deflate's window, so it compresses no better than fresh
 * noise), encoded once; each request's PNG is that one with its own hash in a text chunk before
 * the end, so that every image has bytes of its own while only the first of a size is rendered.
 */
async function grainy(svg: Buffer, width: number, height: number, hash: string): Promise<Buffer> {
  const size = `${width}x${height}`;
  let base = grainBases.get(size);
  if (!base) {
    base = grainBase(svg, width, height);
    grainBases.set(size, base);
  }
  const png = await base;
  return Buffer.concat([png.subarray(0, png.length - 12), pngTextChunk("imagegen-emulator", hash), png.subarray(png.length - 12)]);
}

const grainBases = new Map<string, Promise<Buffer>>();

async function grainBase(svg: Buffer, width: number, height: number): Promise<Buffer> {
  const { data, info } = await sharp(svg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const tile = new Uint8Array(GRAIN_TILE);
  let state = 2_463_534_242;
  for (let i = 0; i < tile.length; i++) {
    // xorshift32: the same grain in every emulator.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    tile[i] = state & 7;
  }
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, data[i]! + tile[i % GRAIN_TILE]!);
  return sharp(data, { raw: { width, height, channels: info.channels } }).png({ compressionLevel: 1 }).toBuffer();
}

/** A prime above deflate's 32 KiB window, so that no repeat of the tile is ever within reach. */
const GRAIN_TILE = 65_521;

/** A PNG `tEXt` chunk: length, type, keyword, NUL, text, CRC of type and data. */
function pngTextChunk(keyword: string, text: string): Buffer {
  const data = Buffer.concat([Buffer.from("tEXt", "latin1"), Buffer.from(`${keyword}\0${text}`, "latin1")]);
  const chunk = Buffer.alloc(data.length + 8);
  chunk.writeUInt32BE(data.length - 4, 0);
  data.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(data), data.length + 4);
  return chunk;
}

/** The picture is laid out on a grid 1024 units wide, as tall as its aspect makes it. */
const GRID = 1024;

/**
 * An edit that visibly comes from its input: the image to edit, covering the answer and lightly
 * tinted by the request's hash, each reference as an inset in a lower corner, and the prompt as a
 * banner, so that a test can find the input's pixels in the output.
 */
async function editedImage({ hash, width, height, caption, edit, references = [] }: Picture): Promise<Sharp> {
  const hue = Math.round((Buffer.from(hash, "hex")[0]! / 255) * 360);
  const base = await sharp(edit).rotate().resize(width, height, { fit: "cover" }).toBuffer();
  const edge = Math.min(width, height);
  const inset = Math.round(edge / 4);
  const margin = Math.round(edge / 32);
  const banner = Math.round((width * 40) / GRID);
  const insets = await Promise.all(
    references.map(async (bytes, i) => ({
      input: await sharp(bytes)
        .rotate()
        .resize(inset, inset, { fit: "cover" })
        .extend({ top: 4, bottom: 4, left: 4, right: 4, background: "#ffffff" })
        .toBuffer(),
      left: i === 0 ? width - inset - 8 - margin : margin,
      top: height - inset - 8 - margin - banner,
    })),
  );
  const tall = gridHeight(width, height);
  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${GRID} ${tall}">
<rect width="${GRID}" height="${tall}" fill="hsl(${hue},70%,50%)" fill-opacity="0.12"/>
<rect x="0" y="${tall - 40}" width="${GRID}" height="40" fill="#000" fill-opacity="0.6"/>
<text x="16" y="${tall - 14}" font-family="DejaVu Sans, Arial, sans-serif" font-size="18" fill="#fff">${escapeXml(caption)}</text>
</svg>`;
  return sharp(base).composite([{ input: Buffer.from(overlay) }, ...insets]);
}

/** A sky, a sun and a few soft shapes whose colours and places come from the hash. */
function pictureSvg({ hash, width, height, caption, transparent = false }: Picture): string {
  const tall = gridHeight(width, height);
  const k = tall / GRID;
  const bytes = Buffer.from(hash, "hex");
  const byte = (i: number) => bytes[i % bytes.length] ?? 0;
  const hue = (i: number) => Math.round((byte(i) / 255) * 360);
  const base = hue(0);
  const shapes: string[] = [];
  for (let i = 0; i < 7; i++) {
    const at = 4 + i * 4;
    const cx = 80 + (byte(at) / 255) * 864;
    const cy = (380 + (byte(at + 1) / 255) * 560) * k;
    const r = 60 + (byte(at + 2) / 255) * 220;
    const colour = `hsl(${(base + 90 + hue(at + 3) / 3) % 360},65%,${35 + (i % 3) * 12}%)`;
    shapes.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="${r.toFixed(1)}" fill="${colour}" fill-opacity="0.55"/>`);
  }
  const sunX = (100 + (byte(1) / 255) * 824).toFixed(1);
  const sunY = ((120 + (byte(2) / 255) * 260) * k).toFixed(1);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${GRID} ${tall}">
<defs>
<linearGradient id="sky" x1="0" y1="0" x2="0.3" y2="1">
<stop offset="0" stop-color="hsl(${base},70%,22%)"/><stop offset="0.6" stop-color="hsl(${(base + 40) % 360},75%,55%)"/><stop offset="1" stop-color="hsl(${(base + 70) % 360},80%,78%)"/>
</linearGradient>
<radialGradient id="sun"><stop offset="0" stop-color="hsl(${hue(3)},100%,92%)"/><stop offset="0.35" stop-color="hsl(${hue(3)},95%,70%)" stop-opacity="0.9"/><stop offset="1" stop-color="hsl(${hue(3)},90%,60%)" stop-opacity="0"/></radialGradient>
</defs>
${transparent ? "" : `<rect width="${GRID}" height="${tall}" fill="url(#sky)"/>\n`}<circle cx="${sunX}" cy="${sunY}" r="190" fill="url(#sun)"/>
${shapes.join("\n")}
<rect x="0" y="${tall - 40}" width="${GRID}" height="40" fill="#000" fill-opacity="0.45"/>
<text x="16" y="${tall - 14}" font-family="DejaVu Sans, Arial, sans-serif" font-size="18" fill="#fff">${escapeXml(caption)}</text>
</svg>`;
}

/** The grid's height for a picture of this pixel size (1024 for a square), to three decimals. */
function gridHeight(width: number, height: number): number {
  return Math.round((GRID * height * 1000) / width) / 1000;
}

/** " · take 2" from the second generation of one request on, so that its images tell apart. */
export function takeLabel(take: number): string {
  return take > 0 ? ` · take ${take + 1}` : "";
}

/** `prompt · what · imagegen emulator`, the prompt on one line and cut at 90 characters. */
export function captionOf(prompt: string, what: string): string {
  const oneLine = prompt.replace(/\s+/g, " ").trim();
  const short = oneLine.length > 90 ? `${oneLine.slice(0, 89)}…` : oneLine;
  return `${short} · ${what} · imagegen emulator`;
}

function escapeXml(text: string): string {
  // Control characters are not allowed in XML even when escaped.
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}
