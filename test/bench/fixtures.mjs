// Deterministic stand-ins for AI originals: a gradient sky, soft shapes, film grain and a
// slight blur, so that encoders see photo-like detail rather than flat colour. Made once and
// kept in `.work/fixtures/` (the same bytes on every machine: the grain comes from a seeded PRNG).
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";

/** Bump when the pictures change, so that old fixtures are made again. */
const FIXTURE_REVISION = 1;

export const FIXTURE_SETS = {
  // The one picture behind every original of the scale sites (each gets bytes of its own: fixture-provider.mjs).
  "1k": { count: 1, pixels: 1024 },
  "2k": { count: 40, pixels: 2048 },
  "4k": { count: 16, pixels: 4096 },
};

/** Paths of every fixture of a set, made first if absent: `<dir>/<set>/NN.png`. */
export async function ensureFixtures(dir, set, log = () => {}) {
  const { count, pixels } = FIXTURE_SETS[set];
  const setDir = path.join(dir, `${set}-r${FIXTURE_REVISION}`);
  await mkdir(setDir, { recursive: true });
  const files = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(setDir, `${String(i).padStart(2, "0")}.png`);
    files.push(file);
    if (await exists(file)) continue;
    const started = performance.now();
    const png = await renderFixture(i, pixels);
    await writeFile(`${file}.tmp`, png);
    await rename(`${file}.tmp`, file);
    log(`  fixture ${set}/${path.basename(file)} (${(png.length / 2 ** 20).toFixed(1)} MiB) in ${ms(started)}`);
  }
  return files;
}

export function readFixture(file) {
  return readFile(file);
}

async function renderFixture(index, pixels) {
  // librsvg is slow at 4K: draw at 1024 and let lanczos scale it, then add full-resolution grain.
  const base = await sharp(Buffer.from(pictureSvg(index, 1024)))
    .resize(pixels, pixels, { kernel: "lanczos3" })
    .removeAlpha()
    .raw()
    .toBuffer();
  addGrain(base, index + 1);
  return sharp(base, { raw: { width: pixels, height: pixels, channels: 3 } })
    .blur(0.6)
    .png({ compressionLevel: 6 })
    .toBuffer();
}

function pictureSvg(index, n) {
  const hue = (k) => (index * 97 + k * 53) % 360;
  let shapes = "";
  for (let k = 0; k < 24; k++) {
    const cx = (((index * 131 + k * 577) % 1000) / 1000) * n;
    const cy = (((index * 71 + k * 313) % 1000) / 1000) * n;
    const r = n * (0.03 + ((k * 37 + index) % 100) / 600);
    shapes += `<circle cx="${cx}" cy="${cy}" r="${r}" fill="hsl(${hue(k)},60%,${30 + (k % 5) * 10}%)" fill-opacity="0.6"/>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${n}" height="${n}">
<defs><linearGradient id="g" x1="0" y1="0" x2="0.4" y2="1"><stop offset="0" stop-color="hsl(${hue(1)},70%,25%)"/><stop offset="1" stop-color="hsl(${hue(2)},80%,75%)"/></linearGradient></defs>
<rect width="${n}" height="${n}" fill="url(#g)"/>${shapes}</svg>`;
}

/** Adds roughly gaussian grain (σ ≈ 4) from a xorshift PRNG seeded per image. */
function addGrain(pixels, seed) {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < pixels.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    // The sum of four bytes is close to normal: mean 510, σ ≈ 148; scaled to σ ≈ 4.
    const sum = (x & 255) + ((x >>> 8) & 255) + ((x >>> 16) & 255) + (x >>> 24);
    const value = pixels[i] + ((sum - 510) * 4) / 148;
    pixels[i] = value < 0 ? 0 : value > 255 ? 255 : value;
  }
}

async function exists(file) {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}

function ms(started) {
  return `${Math.round(performance.now() - started)} ms`;
}
