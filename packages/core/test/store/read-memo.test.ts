import { mkdtemp, readFile, rm, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DerivedCache, describeEncoder, renditionKey } from "../../src/store/derived-cache.js";
import { READ_MEMO_FILE, ReadMemo, USE_RECORD_INTERVAL_MS } from "../../src/store/read-memo.js";
import { Store } from "../../src/store/store.js";
import { originalKey } from "../../src/spec/key.js";
import type { GenerationParams, OutputParams } from "../../src/spec/spec.js";
import { renderVariants, type Rendition } from "../../src/render/variants.js";

const generation: GenerationParams = {
  model: "gemini-3-pro-image-preview",
  prompt: "a heron at dusk",
  size: "1K",
  temperature: 1,
  topP: 0.95,
  variant: "",
};
const output: OutputParams = { widths: [128, 256], formats: ["webp"], quality: undefined, aspect: undefined, fit: "cover", placeholder: "none" };

let original: Buffer;
let rendition: Rendition;
beforeAll(async () => {
  original = await sharp({ create: { width: 512, height: 512, channels: 3, background: "#3a6" } }).png().toBuffer();
  rendition = await renderVariants(original, output);
});

let dir: string;
let storeDir: string;
let cacheDir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "imagegen-memo-"));
  storeDir = join(dir, ".imagegen");
  cacheDir = join(dir, "cache");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What one build process has: a store and a derived cache sharing one memo. */
function aProcess() {
  const memo = new ReadMemo(cacheDir);
  return { memo, store: new Store(storeDir, { memo }), cache: new DerivedCache(cacheDir, { memo }) };
}

/** The key of a rendition that a first build wrote, ending as a build ends (trimmed, its memo saved). */
async function renderedByAFirstBuild(digit: string): Promise<string> {
  const key = renditionKey(digit.repeat(64), output, describeEncoder(sharp));
  const first = aProcess();
  await first.cache.set(key, rendition);
  await first.cache.trim(Number.MAX_SAFE_INTEGER);
  await first.memo.save();
  return key;
}

const memoOnDisk = async () => JSON.parse(await readFile(join(cacheDir, READ_MEMO_FILE), "utf8"));

describe("the memo of a build's reads", () => {
  it("serves the next process a rendition whose JSON is gone, from the variants alone, checked against their sha256", async () => {
    const key = await renderedByAFirstBuild("a");

    await unlink(join(cacheDir, `${key}.json`));
    const second = aProcess();
    const served = await second.cache.get(key);
    expect(served?.variants.map(({ width, hash }) => [width, hash])).toEqual(rendition.variants.map(({ width, hash }) => [width, hash]));

    // A variant that no longer matches its sha256 is a miss, memo or not.
    await writeFile(join(cacheDir, `${key}.128.webp`), "not a webp");
    expect(await aProcess().cache.get(key)).toBeUndefined();
  });

  it("takes a metadata file as remembered only while it is the same file, unchanged", async () => {
    const first = aProcess();
    const meta = await first.store.put(generation, { bytes: original }, "onemin");
    const key = originalKey(generation);
    expect(await first.store.readMeta(key, meta.sha256)).toEqual(meta);
    await first.memo.save();
    const metaFile = join(storeDir, `${key}.json`);
    expect(Object.keys((await memoOnDisk()).metas)).toEqual([metaFile]);

    // The same file: the remembered metadata (here a record edited to show that it is what answers).
    const memo = await memoOnDisk();
    memo.metas[metaFile].meta.prompt = "remembered";
    await writeFile(join(cacheDir, READ_MEMO_FILE), JSON.stringify(memo));
    expect((await aProcess().store.readMeta(key, meta.sha256))?.prompt).toBe("remembered");

    // Touched (as an edit or a checkout would), the file is read again.
    const later = new Date(Date.now() + 5_000);
    await utimes(metaFile, later, later);
    expect((await aProcess().store.readMeta(key, meta.sha256))?.prompt).toBe(generation.prompt);

    // Gone, it is gone: the memo never stands in for a missing file.
    await unlink(metaFile);
    expect(await aProcess().store.readMeta(key, meta.sha256)).toBeUndefined();
  });

  it("records the use of an entry on disk once an hour, not every build", async () => {
    const key = await renderedByAFirstBuild("b");
    const json = join(cacheDir, `${key}.json`);
    const old = new Date("2026-01-01T00:00:00Z");
    await utimes(json, old, old);

    // Written this hour: a build that uses it leaves its mtime alone.
    const second = aProcess();
    await second.cache.get(key);
    await second.cache.trim(Number.MAX_SAFE_INTEGER);
    expect((await stat(json)).mtimeMs).toBe(old.getTime());

    // Recorded longer ago than the interval: the next build records it again, and says so in the memo.
    const memo = await memoOnDisk();
    memo.renditions[key].usedMs = Date.now() - USE_RECORD_INTERVAL_MS - 1;
    await writeFile(join(cacheDir, READ_MEMO_FILE), JSON.stringify(memo));
    const third = aProcess();
    await third.cache.get(key);
    await third.cache.trim(Number.MAX_SAFE_INTEGER);
    await third.memo.save();
    expect((await stat(json)).mtimeMs).toBeGreaterThan(old.getTime());
    expect((await memoOnDisk()).renditions[key].usedMs).toBeGreaterThan(Date.now() - 60_000);
  });

  it("keeps what another process saved meanwhile, and forgets what the cache evicted", async () => {
    const keys = ["c", "d"].map((digit) => renditionKey(digit.repeat(64), output, describeEncoder(sharp)));
    const one = aProcess();
    const other = aProcess();
    await one.cache.set(keys[0]!, rendition);
    await other.cache.set(keys[1]!, rendition);
    await one.memo.save();
    await other.memo.save();
    expect(Object.keys((await memoOnDisk()).renditions).sort()).toEqual([...keys].sort());

    // A cache of at most one entry: a third process that uses the first evicts the second.
    const third = aProcess();
    expect(await third.cache.get(keys[0]!)).toBeDefined();
    await third.cache.set(keys[0]!, rendition);
    const { removed } = await third.cache.trim(1);
    expect(removed).toBe(1);
    await third.memo.save();
    expect(Object.keys((await memoOnDisk()).renditions)).toEqual([keys[0]]);
  });

  it("is empty when its file is damaged, and is then written anew", async () => {
    const key = renditionKey("e".repeat(64), output, describeEncoder(sharp));
    await aProcess().cache.set(key, rendition);
    await writeFile(join(cacheDir, READ_MEMO_FILE), "{");
    const process = aProcess();
    expect(await process.cache.get(key)).toBeDefined();
    await process.cache.trim(Number.MAX_SAFE_INTEGER);
    await process.memo.save();
    expect(Object.keys((await memoOnDisk()).renditions)).toEqual([key]);
  });
});
