// The encode floor: the same variants an imagegen build makes, with the same sharp settings
// (sRGB, lanczos3, AVIF quality 50 effort 4, WebP quality 80 effort 4, metadata stripped), in a
// bare script that keeps every core busy: one original per core at once, sharp's own threads.
// Usage: node child-floor.mjs '{"files":["…"],"widths":[640,1280],"formats":["avif","webp"]}'
// Prints one JSON line: { buildMs, variants, bytes, maxRssMiB }.
import os from "node:os";
import { readFile } from "node:fs/promises";
import { peakRssMiB } from "./peak-rss.mjs";

const { files, widths, formats } = JSON.parse(process.argv[2]);
const importStarted = performance.now();
const { default: sharp } = await import("sharp");
const encoders = {
  avif: (image) => image.avif({ quality: 50, effort: 4 }),
  webp: (image) => image.webp({ quality: 80, effort: 4 }),
};

const started = performance.now();
let next = 0;
let variants = 0;
let bytes = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    const { data, info } = await sharp(await readFile(file)).autoOrient().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    const raw = { width: info.width, height: info.height, channels: info.channels };
    for (const width of widths) {
      const height = Math.round((width * raw.height) / raw.width);
      const resized = width === raw.width ? { data, info: raw } : await sharp(data, { raw }).resize(width, height, { fit: "fill" }).raw().toBuffer({ resolveWithObject: true });
      const frame = { raw: { width: resized.info.width, height: resized.info.height, channels: resized.info.channels } };
      for (const format of formats) {
        const encoded = await encoders[format](sharp(resized.data, frame)).toBuffer();
        variants++;
        bytes += encoded.length;
      }
    }
  }
}
await Promise.all(Array.from({ length: os.availableParallelism() }, worker));
const buildMs = performance.now() - started;
process.stdout.write(`${JSON.stringify({ buildMs, importMs: started - importStarted, variants, bytes, maxRssMiB: peakRssMiB() })}\n`);
