// A custom provider (SPEC §5) that "generates" by returning fixture bytes: the bench seeds the
// store through the same path as a paid generation, with no network and no randomness.
import { readFile } from "node:fs/promises";
import { crc32, deflateRawSync } from "node:zlib";

/** The prompt of fixture `index`; `fixtureProvider` maps it back to the file. */
export function fixturePrompt(set, index) {
  return `bench ${set} image ${String(index).padStart(2, "0")}`;
}

/** @returns {import("@imagegen/core").Provider & { calls: number }} */
export function fixtureProvider(files) {
  const provider = {
    id: "bench-fixture",
    calls: 0,
    async generate(request) {
      const match = / image (\d+)$/.exec(request.prompt);
      const file = match && files[Number(match[1])];
      if (!file) throw new Error(`no fixture for prompt "${request.prompt}"`);
      provider.calls++;
      return { bytes: await readFile(file), recordId: `fixture-${match[1]}` };
    },
  };
  return provider;
}

/**
 * A provider that answers at once with a fresh 1024 px PNG for every prompt: the fixture picture
 * with a stripe of its own colour across its top rows, so that every original (and every variant
 * made of it) has pixels of its own. Encoding 2,000 PNGs would cost a build ~50 ms of CPU each: the
 * picture's other rows are compressed once, and each PNG is spliced from them (pngWithStripe).
 * @returns {import("@imagegen/core").Provider & { calls: number }}
 */
export function freshPngProvider(file) {
  let base;
  const provider = {
    id: "bench-fresh-png",
    calls: 0,
    async generate(request) {
      const index = Number(/(\d+)$/.exec(request.prompt)?.[1] ?? provider.calls);
      base ??= stripedPngBase(file);
      const bytes = pngWithStripe(await base, index);
      provider.calls++;
      return { bytes };
    },
  };
  return provider;
}

const STRIPE_ROWS = 8;

/** The fixture's rows, its stripe-free rows compressed once, and what every PNG of it shares. */
async function stripedPngBase(file) {
  const { default: sharp } = await import("sharp");
  const { data, info } = await sharp(await readFile(file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rowBytes = info.width * 3 + 1;
  const rows = Buffer.alloc(rowBytes * info.height);
  // Filter type 0 (none) on every row: the scanlines as they are.
  for (let y = 0; y < info.height; y++) data.copy(rows, y * rowBytes + 1, y * info.width * 3, (y + 1) * info.width * 3);
  const rest = rows.subarray(STRIPE_ROWS * rowBytes);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(info.width, 0);
  ihdr.writeUInt32BE(info.height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, adaptive filtering, no interlace
  return {
    head: Buffer.concat([PNG_SIGNATURE, pngChunk("IHDR", ihdr)]),
    stripe: rows.subarray(0, STRIPE_ROWS * rowBytes),
    width: info.width,
    // The rest of the zlib stream, after the stripe's stored block: its own deflate blocks, the last one final.
    restIdat: pngChunk("IDAT", deflateRawSync(rest, { level: 6 })),
    restAdler: adler32(rest),
    restLength: rest.length,
  };
}

/** A PNG of the base picture whose top rows are one colour of `index`'s own. */
function pngWithStripe(base, index) {
  const stripe = Buffer.from(base.stripe);
  const rowBytes = base.width * 3 + 1;
  for (let y = 0; y < STRIPE_ROWS; y++) {
    for (let x = 0; x < base.width; x++) stripe.set([index & 255, (index >> 8) & 255, 128], y * rowBytes + 1 + x * 3);
  }
  // The zlib header, then the stripe as one stored (uncompressed) block, not the last.
  const stored = Buffer.alloc(2 + 5);
  stored.set([0x78, 0x01, 0x00], 0);
  stored.writeUInt16LE(stripe.length, 3);
  stored.writeUInt16LE(~stripe.length & 0xffff, 5);
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(adler32Combine(adler32(stripe), base.restAdler, base.restLength));
  // One zlib stream may be split across IDAT chunks anywhere.
  return Buffer.concat([
    base.head,
    pngChunk("IDAT", Buffer.concat([stored, stripe])),
    base.restIdat,
    pngChunk("IDAT", adler),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG chunk: length, type, data, CRC of type and data. */
function pngChunk(type, data) {
  const typed = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const chunk = Buffer.alloc(typed.length + 8);
  chunk.writeUInt32BE(data.length, 0);
  typed.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typed), typed.length + 4);
  return chunk;
}

const ADLER_BASE = 65521;

function adler32(bytes) {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; ) {
    // 3800 bytes at most between reductions keeps b below 2^32.
    const end = Math.min(bytes.length, i + 3800);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= ADLER_BASE;
    b %= ADLER_BASE;
  }
  return ((b << 16) | a) >>> 0;
}

/** zlib's adler32_combine: the checksum of A then B from theirs and B's length. */
function adler32Combine(adlerA, adlerB, lengthB) {
  const remainder = lengthB % ADLER_BASE;
  let sum1 = adlerA & 0xffff;
  let sum2 = (remainder * sum1) % ADLER_BASE;
  sum1 += (adlerB & 0xffff) + ADLER_BASE - 1;
  sum2 += (adlerA >>> 16) + (adlerB >>> 16) + ADLER_BASE - remainder;
  if (sum1 >= ADLER_BASE) sum1 -= ADLER_BASE;
  if (sum1 >= ADLER_BASE) sum1 -= ADLER_BASE;
  if (sum2 >= 2 * ADLER_BASE) sum2 -= 2 * ADLER_BASE;
  if (sum2 >= ADLER_BASE) sum2 -= ADLER_BASE;
  return ((sum2 << 16) | sum1) >>> 0;
}
