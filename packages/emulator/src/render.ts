import { createHash } from "node:crypto";
import sharp from "sharp";

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

/** Renders each image once; keeps the most recent ones because a 4K PNG takes a moment. */
export class ImageRenderer {
  readonly #cache = new Map<string, Promise<Buffer>>();
  readonly #capacity: number;
  readonly #assets: AssetBytes;
  readonly #grain: boolean;

  constructor(assets: AssetBytes = () => undefined, { capacity = 16, grain = false }: { capacity?: number; grain?: boolean } = {}) {
    this.#assets = assets;
    this.#capacity = grain ? 2 : capacity;
    this.#grain = grain;
  }

  render(promptObject: PromptObject): Promise<Buffer> {
    const hash = hashPromptObject(promptObject);
    let png = this.#cache.get(hash);
    if (png === undefined) {
      png = promptObject.imageUrl === undefined ? renderPng(promptObject, hash, this.#grain) : renderEdit(promptObject, hash, this.#assets);
      png.catch(() => this.#cache.delete(hash));
    } else {
      this.#cache.delete(hash);
    }
    this.#cache.set(hash, png);
    for (const oldest of this.#cache.keys()) {
      if (this.#cache.size <= this.#capacity) break;
      this.#cache.delete(oldest);
    }
    return png;
  }
}

function renderPng(promptObject: PromptObject, hash: string, grain: boolean): Promise<Buffer> {
  const svg = pictureSvg(promptObject, hash);
  // Level 6 keeps a 4K render well under a second; nobody needs the emulator's PNGs small.
  if (!grain) return sharp(Buffer.from(svg)).png({ compressionLevel: 6 }).toBuffer();
  return grainy(Buffer.from(svg), SIZE_PIXELS[promptObject.imageSize], hash);
}

/** The picture with a photograph's grain (3 bits of noise a channel, from the hash): a PNG as heavy as a real one. */
async function grainy(svg: Buffer, pixels: number, hash: string): Promise<Buffer> {
  const { data, info } = await sharp(svg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let state = Number.parseInt(hash.slice(0, 8), 16) || 1;
  for (let i = 0; i < data.length; i++) {
    // xorshift32: deterministic, and fast over 50 million bytes.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[i] = Math.min(255, data[i]! + (state & 7));
  }
  return sharp(data, { raw: { width: pixels, height: pixels, channels: info.channels } }).png({ compressionLevel: 1 }).toBuffer();
}

/**
 * An edit that visibly comes from its input: the image to edit, covering the answer's square and
 * lightly tinted by the prompt's hash, each reference as an inset in a lower corner, and the prompt
 * as a banner, so that a test can find the input's pixels in the output.
 */
async function renderEdit(promptObject: PromptObject, hash: string, assets: AssetBytes): Promise<Buffer> {
  const pixels = SIZE_PIXELS[promptObject.imageSize];
  const bytesOf = (path: string) => {
    const bytes = assets(path);
    if (bytes === undefined) throw new Error(`asset ${path} is gone`);
    return bytes;
  };
  const hue = Math.round((Buffer.from(hash, "hex")[0]! / 255) * 360);
  const base = await sharp(bytesOf(promptObject.imageUrl!)).rotate().resize(pixels, pixels, { fit: "cover" }).toBuffer();
  const inset = Math.round(pixels / 4);
  const margin = Math.round(pixels / 32);
  const references = [promptObject.referenceImage1, promptObject.referenceImage2].filter((path) => path !== undefined);
  const insets = await Promise.all(
    references.map(async (path, i) => ({
      input: await sharp(bytesOf(path))
        .rotate()
        .resize(inset, inset, { fit: "cover" })
        .extend({ top: 4, bottom: 4, left: 4, right: 4, background: "#ffffff" })
        .toBuffer(),
      left: i === 0 ? pixels - inset - 8 - margin : margin,
      top: pixels - inset - 8 - margin - Math.round((pixels * 40) / 1024),
    })),
  );
  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${pixels}" height="${pixels}" viewBox="0 0 1024 1024">
<rect width="1024" height="1024" fill="hsl(${hue},70%,50%)" fill-opacity="0.12"/>
<rect x="0" y="984" width="1024" height="40" fill="#000" fill-opacity="0.6"/>
<text x="16" y="1010" font-family="DejaVu Sans, Arial, sans-serif" font-size="18" fill="#fff">${escapeXml(`edit: ${captionOf(promptObject)}`)}</text>
</svg>`;
  return sharp(base)
    .composite([{ input: Buffer.from(overlay) }, ...insets])
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/** A sky, a sun and a few soft shapes whose colours and places come from the hash. */
function pictureSvg(promptObject: PromptObject, hash: string): string {
  const pixels = SIZE_PIXELS[promptObject.imageSize];
  const bytes = Buffer.from(hash, "hex");
  const byte = (i: number) => bytes[i % bytes.length] ?? 0;
  const hue = (i: number) => Math.round((byte(i) / 255) * 360);
  const base = hue(0);
  const shapes: string[] = [];
  for (let i = 0; i < 7; i++) {
    const at = 4 + i * 4;
    const cx = 80 + (byte(at) / 255) * 864;
    const cy = 380 + (byte(at + 1) / 255) * 560;
    const r = 60 + (byte(at + 2) / 255) * 220;
    const colour = `hsl(${(base + 90 + hue(at + 3) / 3) % 360},65%,${35 + (i % 3) * 12}%)`;
    shapes.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="${r.toFixed(1)}" fill="${colour}" fill-opacity="0.55"/>`);
  }
  const sunX = (100 + (byte(1) / 255) * 824).toFixed(1);
  const sunY = (120 + (byte(2) / 255) * 260).toFixed(1);
  const caption = escapeXml(captionOf(promptObject));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${pixels}" height="${pixels}" viewBox="0 0 1024 1024">
<defs>
<linearGradient id="sky" x1="0" y1="0" x2="0.3" y2="1">
<stop offset="0" stop-color="hsl(${base},70%,22%)"/><stop offset="0.6" stop-color="hsl(${(base + 40) % 360},75%,55%)"/><stop offset="1" stop-color="hsl(${(base + 70) % 360},80%,78%)"/>
</linearGradient>
<radialGradient id="sun"><stop offset="0" stop-color="hsl(${hue(3)},100%,92%)"/><stop offset="0.35" stop-color="hsl(${hue(3)},95%,70%)" stop-opacity="0.9"/><stop offset="1" stop-color="hsl(${hue(3)},90%,60%)" stop-opacity="0"/></radialGradient>
</defs>
<rect width="1024" height="1024" fill="url(#sky)"/>
<circle cx="${sunX}" cy="${sunY}" r="190" fill="url(#sun)"/>
${shapes.join("\n")}
<rect x="0" y="984" width="1024" height="40" fill="#000" fill-opacity="0.45"/>
<text x="16" y="1010" font-family="DejaVu Sans, Arial, sans-serif" font-size="18" fill="#fff">${caption}</text>
</svg>`;
}

function captionOf({ prompt, imageSize, take = 0 }: PromptObject): string {
  const oneLine = prompt.replace(/\s+/g, " ").trim();
  const short = oneLine.length > 90 ? `${oneLine.slice(0, 89)}…` : oneLine;
  return `${short} · ${imageSize}${take > 0 ? ` · take ${take + 1}` : ""} · imagegen emulator`;
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
