import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/spec/key.js";
import type { OutputParams } from "../../src/spec/spec.js";
import { planVariants, renderPlaceholder, renderVariant, renderVariants, type Variant } from "../../src/render/variants.js";

const defaults: OutputParams = {
  widths: undefined,
  formats: ["webp"],
  quality: undefined,
  aspect: undefined,
  fit: "cover",
  placeholder: "none",
};

/** A square with a few shapes, so encoders have something to do. */
function picture(width: number, height: number): Promise<Buffer> {
  const shapes = Array.from(
    { length: 12 },
    (_, i) => `<circle cx="${(i * 373) % width}" cy="${(i * 911) % height}" r="${width / 10}" fill="hsl(${i * 37},60%,50%)"/>`,
  ).join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#246"/>${shapes}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

async function readBack(variant: Variant) {
  const metadata = await sharp(variant.bytes).metadata();
  const format = metadata.format === "heif" && metadata.compression === "av1" ? "avif" : metadata.format;
  return { format, width: metadata.width, height: metadata.height, channels: metadata.channels };
}

/** RGBA of one pixel of an encoded image. */
async function pixel(bytes: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * 4;
  return [...data.subarray(at, at + 4)];
}

let square2k: Buffer;
let square1k: Buffer;
beforeAll(async () => {
  [square2k, square1k] = await Promise.all([picture(2048, 2048), picture(1024, 1024)]);
});

describe("renderVariants", () => {
  it("makes each width of each format, in format order then ascending width", async () => {
    const rendition = await renderVariants(square2k, { ...defaults, widths: [1280, 640], formats: ["webp", "jpeg"] });
    expect(rendition.variants.map((v) => [v.format, v.width, v.height])).toEqual([
      ["webp", 640, 640],
      ["webp", 1280, 1280],
      ["jpeg", 640, 640],
      ["jpeg", 1280, 1280],
    ]);
    for (const variant of rendition.variants) {
      expect(await readBack(variant)).toMatchObject({ format: variant.format, width: variant.width, height: variant.height });
      expect(variant.hash).toBe(sha256Hex(variant.bytes));
    }
    expect([rendition.width, rendition.height]).toEqual([1280, 1280]);
    expect(rendition.placeholder).toBeUndefined();
  });

  it("encodes AVIF and PNG", async () => {
    const rendition = await renderVariants(square1k, { ...defaults, widths: [256], formats: ["avif", "png"] });
    expect(await Promise.all(rendition.variants.map(readBack))).toMatchObject([
      { format: "avif", width: 256, height: 256 },
      { format: "png", width: 256, height: 256 },
    ]);
  });

  it("keeps the original width when no widths are given", async () => {
    const rendition = await renderVariants(square1k, defaults);
    expect(rendition.variants.map((v) => [v.width, v.height])).toEqual([[1024, 1024]]);
    const empty = await renderVariants(square1k, { ...defaults, widths: [] });
    expect(empty.variants.map((v) => [v.width, v.height])).toEqual([[1024, 1024]]);
  });

  it("never upscales: larger widths are clamped to the original and made once", async () => {
    const rendition = await renderVariants(square1k, { ...defaults, widths: [512, 4000, 5000, 1024] });
    expect(rendition.variants.map((v) => [v.width, v.height])).toEqual([
      [512, 512],
      [1024, 1024],
    ]);
    expect(await readBack(rendition.variants[1]!)).toMatchObject({ width: 1024, height: 1024 });
  });

  it("crops to the aspect ratio with fit cover, clamping to the cropped size", async () => {
    const rendition = await renderVariants(square2k, {
      ...defaults,
      widths: [640, 4000],
      aspect: { width: 4, height: 3 },
      fit: "cover",
    });
    expect(await Promise.all(rendition.variants.map(readBack))).toMatchObject([
      { format: "webp", width: 640, height: 480 },
      { format: "webp", width: 2048, height: 1536 },
    ]);
    expect([rendition.width, rendition.height]).toEqual([2048, 1536]);
  });

  it("crops around the centre", async () => {
    // Red | green | blue thirds: a square crop of the middle is all green.
    const thirds = await sharp({ create: { width: 900, height: 300, channels: 3, background: "#f00" } })
      .composite([
        { input: { create: { width: 300, height: 300, channels: 3, background: "#0f0" } }, left: 300, top: 0 },
        { input: { create: { width: 300, height: 300, channels: 3, background: "#00f" } }, left: 600, top: 0 },
      ])
      .png()
      .toBuffer();
    const rendition = await renderVariants(thirds, { ...defaults, formats: ["png"], aspect: { width: 1, height: 1 } });
    const [variant] = rendition.variants;
    expect([variant!.width, variant!.height]).toEqual([300, 300]);
    expect(await pixel(variant!.bytes, 5, 150)).toEqual([0, 255, 0, 255]);
    expect(await pixel(variant!.bytes, 294, 150)).toEqual([0, 255, 0, 255]);
  });

  it("letterboxes with fit contain: transparent bands, white in JPEG", async () => {
    const rendition = await renderVariants(square1k, {
      ...defaults,
      widths: [400],
      formats: ["png", "jpeg"],
      aspect: { width: 4, height: 3 },
      fit: "contain",
    });
    const [png, jpeg] = rendition.variants;
    expect(await readBack(png!)).toMatchObject({ format: "png", width: 400, height: 300, channels: 4 });
    expect(await readBack(jpeg!)).toMatchObject({ format: "jpeg", width: 400, height: 300 });
    expect((await pixel(png!.bytes, 2, 150))[3]).toBe(0);
    expect((await pixel(jpeg!.bytes, 2, 150)).slice(0, 3).every((channel) => channel > 245)).toBe(true);
  });

  it("fits within the aspect box without cropping with fit inside", async () => {
    const rendition = await renderVariants(square1k, {
      ...defaults,
      widths: [400, 2000],
      aspect: { width: 4, height: 3 },
      fit: "inside",
    });
    expect(await Promise.all(rendition.variants.map(readBack))).toMatchObject([
      { width: 300, height: 300 },
      { width: 1024, height: 1024 },
    ]);
  });

  it("applies EXIF orientation and strips metadata", async () => {
    const sideways = await sharp(await picture(400, 200))
      .jpeg()
      .withMetadata({ orientation: 6, exif: { IFD0: { Copyright: "secret" } } })
      .toBuffer();
    const rendition = await renderVariants(sideways, { ...defaults, formats: ["jpeg"] });
    const metadata = await sharp(rendition.variants[0]!.bytes).metadata();
    expect([metadata.width, metadata.height]).toEqual([200, 400]);
    expect(metadata.exif).toBeUndefined();
    expect(metadata.orientation).toBeUndefined();
    expect(metadata.icc).toBeUndefined();
  });

  it("lets quality override the format's default", async () => {
    const output = { ...defaults, widths: [512], formats: ["jpeg" as const] };
    const [normal, low] = await Promise.all([
      renderVariants(square1k, output),
      renderVariants(square1k, { ...output, quality: 20 }),
    ]);
    expect(low.variants[0]!.bytes.byteLength).toBeLessThan(normal.variants[0]!.bytes.byteLength);
  });

  it("makes a small, decodable blur placeholder of the same framing", async () => {
    const rendition = await renderVariants(square2k, {
      ...defaults,
      widths: [640],
      aspect: { width: 16, height: 9 },
      placeholder: "blur",
    });
    const url = rendition.placeholder!;
    expect(url).toMatch(/^data:image\/webp;base64,/);
    expect(url.length).toBeLessThan(1024);
    const metadata = await sharp(Buffer.from(url.slice(url.indexOf(",") + 1), "base64")).metadata();
    expect(metadata).toMatchObject({ format: "webp", width: 16, height: 9 });
  });
});

describe("planVariants, renderVariant and renderPlaceholder (the dev server's one variant at a time)", () => {
  it("plan the sizes renderVariants makes from the original's size alone, and encode each to the same bytes", async () => {
    const output: OutputParams = { ...defaults, widths: [320, 160, 320], formats: ["avif", "jpeg"], aspect: { width: 4, height: 3 }, placeholder: "blur" };
    const rendition = await renderVariants(square1k, output);
    const planned = planVariants({ width: 1024, height: 1024 }, output);
    expect(planned).toEqual(rendition.variants.map(({ format, width, height }) => ({ format, width, height })));

    const source = { width: 1024, height: 1024, load: async () => square1k };
    for (const variant of [planned[0]!, planned.at(-1)!]) {
      const alone = await renderVariant(source, output, variant);
      const inRendition = rendition.variants.find((v) => v.format === variant.format && v.width === variant.width)!;
      expect(alone.hash).toBe(inRendition.hash);
    }
    expect(await renderPlaceholder(source, output)).toBe(rendition.placeholder);
    expect(await renderPlaceholder(source, { ...output, placeholder: "none" })).toBeUndefined();
  });
});
