import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DerivedCache, ENCODER_FILE, describeEncoder, renditionKey } from "../../src/store/derived-cache.js";
import { sha256Hex } from "../../src/spec/key.js";
import type { OutputParams } from "../../src/spec/spec.js";
import { renderVariants, type Rendition } from "../../src/render/variants.js";

const output: OutputParams = {
  widths: [256, 512],
  formats: ["webp", "jpeg"],
  quality: undefined,
  aspect: { width: 4, height: 3 },
  fit: "cover",
  placeholder: "blur",
};
const sha = "c".repeat(64);
const encoder = describeEncoder(sharp);

let rendition: Rendition;
beforeAll(async () => {
  const original = await sharp({ create: { width: 1024, height: 1024, channels: 3, background: "#c63" } })
    .png()
    .toBuffer();
  rendition = await renderVariants(original, output);
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "imagegen-cache-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the encoder version", () => {
  it("names sharp and libvips", () => {
    expect(encoder).toContain(`sharp@${sharp.versions.sharp}`);
    expect(encoder).toContain(`vips@${sharp.versions.vips}`);
  });

  it("is remembered beside the cache for the sharp package that described it, and asked again for another", async () => {
    expect(await new DerivedCache(dir).encoder()).toBe(encoder);
    const file = join(dir, ENCODER_FILE);
    const memo = JSON.parse(await readFile(file, "utf8")) as { sharp: string; encoder: string };
    expect(memo).toEqual({ sharp: expect.stringContaining(`@${sharp.versions.sharp}`), encoder });

    // The next process reads the memo (here: one edited to show that it is what answers), not sharp.
    await writeFile(file, JSON.stringify({ ...memo, encoder: "remembered" }));
    expect(await new DerivedCache(dir).encoder()).toBe("remembered");

    // A memo of another sharp package, or a damaged one, is replaced by what sharp says.
    await writeFile(file, JSON.stringify({ sharp: "/elsewhere/sharp@0.1.0", encoder: "stale" }));
    expect(await new DerivedCache(dir).encoder()).toBe(encoder);
    await writeFile(file, "{");
    expect(await new DerivedCache(dir).encoder()).toBe(encoder);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual(memo);
  });
});

describe("renditionKey", () => {
  it("changes with the original and with each output parameter", () => {
    const keys = [
      renditionKey(sha, output, encoder),
      renditionKey("d".repeat(64), output, encoder),
      renditionKey(sha, { ...output, widths: [256] }, encoder),
      renditionKey(sha, { ...output, widths: undefined }, encoder),
      renditionKey(sha, { ...output, formats: ["jpeg"] }, encoder),
      renditionKey(sha, { ...output, quality: 60 }, encoder),
      renditionKey(sha, { ...output, aspect: { width: 3, height: 4 } }, encoder),
      renditionKey(sha, { ...output, fit: "contain" }, encoder),
      renditionKey(sha, { ...output, placeholder: "none" }, encoder),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("ignores what does not change the pixels", () => {
    expect(renditionKey(sha, { ...output, widths: [512, 256, 512] }, encoder)).toBe(renditionKey(sha, output, encoder));
    // The order of formats is only the order of variants, which the engine restores for each import.
    expect(renditionKey(sha, { ...output, formats: ["jpeg", "webp"] }, encoder)).toBe(renditionKey(sha, output, encoder));
    expect(renditionKey(sha, { ...output, widths: [] }, encoder)).toBe(renditionKey(sha, { ...output, widths: undefined }, encoder));
    const noAspect = { ...output, aspect: undefined };
    expect(renditionKey(sha, { ...noAspect, fit: "inside" }, encoder)).toBe(renditionKey(sha, noAspect, encoder));
  });
});

describe("DerivedCache", () => {
  it("gives back what was set, bytes and all", async () => {
    const cache = new DerivedCache(dir);
    const key = renditionKey(sha, output, encoder);
    expect(await cache.get(key)).toBeUndefined();
    await cache.set(key, rendition);
    expect(await cache.get(key)).toEqual(rendition);
    expect((await readdir(dir)).sort()).toEqual(
      [`${key}.json`, `${key}.256.jpg`, `${key}.256.webp`, `${key}.512.jpg`, `${key}.512.webp`].sort(),
    );
  });

  it("keeps an absent placeholder absent", async () => {
    const cache = new DerivedCache(dir);
    await cache.set("k", { ...rendition, placeholder: undefined });
    expect((await cache.get("k"))?.placeholder).toBeUndefined();
  });

  it("misses when a cached variant is corrupted, truncated or gone", async () => {
    const cache = new DerivedCache(dir);
    const key = renditionKey(sha, output, encoder);
    await cache.set(key, rendition);
    const file = join(dir, `${key}.512.webp`);
    const bytes = await readFile(file);

    bytes[bytes.length - 10] ^= 0xff;
    await writeFile(file, bytes);
    expect(await cache.get(key)).toBeUndefined();

    await writeFile(file, bytes.subarray(0, 100));
    expect(await cache.get(key)).toBeUndefined();

    await rm(file);
    expect(await cache.get(key)).toBeUndefined();

    // Set again: the entry is whole once more.
    await cache.set(key, rendition);
    expect(sha256Hex((await cache.get(key))!.variants[3]!.bytes)).toBe(rendition.variants[3]!.hash);
  });

  it("misses on a truncated or foreign JSON, never throws", async () => {
    const cache = new DerivedCache(dir);
    await cache.set("k", rendition);
    const text = await readFile(join(dir, "k.json"), "utf8");
    await writeFile(join(dir, "k.json"), text.slice(0, 40));
    expect(await cache.get("k")).toBeUndefined();
    const entry = JSON.parse(text) as { variants: { file: string }[] };
    entry.variants[0]!.file = "../../etc/passwd";
    await writeFile(join(dir, "k.json"), JSON.stringify(entry));
    expect(await cache.get("k")).toBeUndefined();
    expect(await new DerivedCache(join(dir, "absent")).get("k")).toBeUndefined();
  });
});

describe("DerivedCache after a machine crash", () => {
  // Its writes are not flushed to disk (no fsync): a crash of the machine may leave any of its
  // files empty under the final name. Each must read as a miss, so the entry is made again.
  it("reads any file left empty as a miss, never as an image", async () => {
    const key = renditionKey(sha, output, encoder);
    const [first] = rendition.variants;
    const names = [`${key}.json`, `${key}.512.webp`, `v.${first!.width}.webp`, `v.${first!.width}.webp.json`, "p.placeholder.txt"];
    for (const name of names) {
      const cache = new DerivedCache(dir);
      await cache.set(key, rendition);
      await cache.setVariant("v", first!);
      await cache.setPlaceholder("p", rendition.placeholder!);
      await writeFile(join(dir, name), "");
      const entry = name.startsWith(key) ? await cache.get(key) : undefined;
      if (name.startsWith(key)) expect(entry, name).toBeUndefined();
      if (name.startsWith("v.")) expect(await new DerivedCache(dir).getVariant("v", first!.format, first!.width), name).toBeUndefined();
      if (name.startsWith("p.")) expect(cache.getPlaceholder("p"), name).toBeUndefined();
    }
    await writeFile(join(dir, ENCODER_FILE), "");
    expect(await new DerivedCache(dir).encoder()).toBe(encoder);
  });
});

describe("the cache's size cap", () => {
  /** Keys of the complete entries in the folder. */
  async function keysIn(): Promise<string[]> {
    return [...new Set((await readdir(dir)).filter((name) => /^[0-9a-f]{32}\.json$/.test(name)).map((name) => name.slice(0, 32)))].sort();
  }
  const keyOf = (n: number) => renditionKey(n.toString(16).padStart(64, "0"), output, encoder);
  const entryBytes = () => rendition.variants.reduce((sum, variant) => sum + variant.bytes.length, 0);

  it("a build that wrote removes the least recently used entries of other builds until the cache fits, and keeps its own", async () => {
    // Four entries of earlier builds, the first the longest unused.
    const earlier = new DerivedCache(dir);
    for (const n of [1, 2, 3, 4]) await earlier.set(keyOf(n), rendition);
    for (const [i, n] of [1, 2, 3, 4].entries()) {
      const usedAt = new Date(Date.now() - (10 - i) * 60_000);
      await utimes(join(dir, `${keyOf(n)}.json`), usedAt, usedAt);
    }
    // This build reads the oldest (it becomes the most recent) and writes a new one.
    const build = new DerivedCache(dir);
    expect(await build.get(keyOf(1))).toBeDefined();
    await build.set(keyOf(5), rendition);
    const json = (await readFile(join(dir, `${keyOf(5)}.json`))).length;
    // Room for three entries: the two least recently used go (2 and 3), whatever their file order.
    const trim = await build.trim(3 * (entryBytes() + json) + 10);
    expect(trim).toMatchObject({ removed: 2 });
    expect(await keysIn()).toEqual([keyOf(1), keyOf(4), keyOf(5)].sort());
    expect((await readdir(dir)).filter((name) => name.startsWith(keyOf(2)) || name.startsWith(keyOf(3)))).toEqual([]);
    expect(trim.totalBytes).toBeLessThanOrEqual(3 * (entryBytes() + json) + 10);

    // Under a cap smaller than what the build used, the build's own entries stay.
    const small = await build.trim(1, { always: true });
    expect(await keysIn()).toEqual([keyOf(1), keyOf(5)].sort());
    expect(small.removed).toBe(1);
  });

  it("a build that only read records its use and looks at nothing else, since it made the cache no larger", async () => {
    await new DerivedCache(dir).set(keyOf(7), rendition);
    const old = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, `${keyOf(7)}.json`), old, old);
    const warm = new DerivedCache(dir);
    expect(await warm.get(keyOf(7))).toBeDefined();
    expect(await warm.trim(1)).toEqual({ removed: 0, freedBytes: 0, totalBytes: undefined });
    expect(await keysIn()).toEqual([keyOf(7)]);
    expect((await stat(join(dir, `${keyOf(7)}.json`))).mtimeMs).toBeGreaterThan(old.getTime() + 60_000);
  });
});

describe("DerivedCache, one variant at a time", () => {
  it("gives back a variant set on its own, or one of a whole cached rendition, and misses a corrupted one", async () => {
    const cache = new DerivedCache(dir);
    const [first, second] = rendition.variants;
    await cache.setVariant("k1", first!);
    expect((await cache.getVariant("k1", first!.format, first!.width))?.hash).toBe(first!.hash);
    expect(await cache.getVariant("k1", second!.format, second!.width)).toBeUndefined();

    await cache.set("k2", rendition);
    expect((await cache.getVariant("k2", second!.format, second!.width))?.bytes.equals(second!.bytes)).toBe(true);

    await writeFile(join(dir, `k1.${first!.width}.webp`), "not the bytes");
    expect(await cache.getVariant("k1", first!.format, first!.width)).toBeUndefined();
  });

  it("keeps a placeholder data URL, and nothing else under that name", async () => {
    const cache = new DerivedCache(dir);
    expect(cache.getPlaceholder("k")).toBeUndefined();
    await cache.setPlaceholder("k", rendition.placeholder!);
    expect(cache.getPlaceholder("k")).toBe(rendition.placeholder);
    await writeFile(join(dir, "k.placeholder.txt"), "garbage");
    expect(cache.getPlaceholder("k")).toBeUndefined();
  });
});
