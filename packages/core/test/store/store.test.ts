import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { removeStaleTempFiles, writeFileAtomic } from "../../src/store/atomic-write.js";
import { ImagegenError } from "../../src/errors.js";
import { originalKey, sha256Hex } from "../../src/spec/key.js";
import type { GenerationParams } from "../../src/spec/spec.js";
import { Store } from "../../src/store/store.js";
import { checkedWholeImage, checkWholeImage } from "../../src/sharp.js";

const generation: GenerationParams = {
  model: "gemini-3-pro-image-preview",
  prompt: "a red fox, watercolor",
  size: "1K",
  temperature: 1,
  topP: 0.95,
  variant: "",
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "imagegen-store-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function png(width = 1024, height = 1024): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } } })
    .png()
    .toBuffer();
}

describe("writeFileAtomic", () => {
  it("creates folders, replaces the file and leaves no temporary file", async () => {
    const file = join(dir, "a", "b", "data.json");
    await writeFileAtomic(file, "one");
    await Promise.all([writeFileAtomic(file, "two"), writeFileAtomic(file, "two")]);
    await writeFileAtomic(file, new Uint8Array([51]));
    expect(await readFile(file, "utf8")).toBe("3");
    expect(await readdir(join(dir, "a", "b"))).toEqual(["data.json"]);
  });

  it("removes temporary files a killed writer left, once they are old", async () => {
    const stale = join(dir, ".x.json.123.abcdef.tmp");
    const fresh = join(dir, ".y.json.124.abcdef.tmp");
    await writeFile(stale, "partial");
    await writeFile(fresh, "in flight");
    await writeFile(join(dir, "keep.json"), "{}");
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, old, old);
    expect(await removeStaleTempFiles(dir)).toBe(1);
    expect((await readdir(dir)).sort()).toEqual([".y.json.124.abcdef.tmp", "keep.json"]);
    expect(await removeStaleTempFiles(join(dir, "absent"))).toBe(0);
  });

  it("removes a fresh temporary file of a dead writer only when it was written in this host's boot and pid namespace", async () => {
    const dead = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => dead.on("exit", resolve));
    const id = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 8);
    // A temporary file names its writer's host, boot and pid namespace: a dead pid there is a leftover.
    const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const here = id(`${hostname()}\0${bootId}\0${readlinkSync("/proc/self/ns/pid")}`);
    const leftover = `.left.json.${dead.pid}.${here}000000000000.tmp`;
    // A write in flight in a container sharing this host name (another pid namespace): its pid means nothing here.
    const container = id(`${hostname()}\0${bootId}\0pid:[4026531999]`);
    const inFlight = `.flight.json.${dead.pid}.${container}000000000000.tmp`;
    // Before pid namespaces were told apart, such a writer was named by its host name alone.
    const hostOnly = `.old.json.${dead.pid}.${id(hostname())}000000000000.tmp`;
    for (const name of [leftover, inFlight, hostOnly]) await writeFile(join(dir, name), "partial");
    expect(await removeStaleTempFiles(dir)).toBe(1);
    expect((await readdir(dir)).sort()).toEqual([inFlight, hostOnly].sort());
  });
});

describe("Store", () => {
  it("stores an original with its metadata and reads both back", async () => {
    const store = new Store(dir);
    const bytes = await png(1024, 768);
    const meta = await store.put(generation, { bytes: new Uint8Array(bytes), recordId: "rec-1" }, "onemin");
    const key = originalKey(generation);

    expect(meta).toMatchObject({
      key,
      prompt: generation.prompt,
      provider: "onemin",
      recordId: "rec-1",
      sha256: sha256Hex(bytes),
      width: 1024,
      height: 768,
      format: "png",
      bytes: bytes.byteLength,
      file: `${key}.png`,
    });
    expect((await readdir(dir)).sort()).toEqual([`${key}.json`, `${key}.png`]);
    expect(await store.readMeta(key)).toEqual(meta);
    expect(await store.readOriginal(meta)).toEqual(bytes);
    expect(await store.keys()).toEqual([key]);
  });

  it("writes metadata as sorted, pretty JSON with a trailing newline", async () => {
    const store = new Store(dir);
    const meta = await store.put(generation, { bytes: await png() }, "onemin");
    const text = await readFile(join(dir, `${meta.key}.json`), "utf8");
    expect(text.endsWith("}\n")).toBe(true);
    const fields = [...text.matchAll(/^ {2}"(\w+)":/gm)].map((m) => m[1]);
    expect(fields).toEqual([...fields].sort());
    expect(text).not.toContain("recordId");
  });

  it("names the file by the decoded format", async () => {
    const store = new Store(dir);
    const jpeg = await sharp(await png()).jpeg().toBuffer();
    const meta = await store.put(generation, { bytes: jpeg }, "onemin");
    expect(meta).toMatchObject({ format: "jpeg", file: `${meta.key}.jpg` });
  });

  it("keeps every original of a key as a candidate: later ones beside the first, named by their sha256", async () => {
    const store = new Store(dir);
    const jpeg = await sharp(await png()).jpeg().toBuffer();
    const first = await store.put(generation, { bytes: jpeg }, "onemin", { createdAt: "2026-01-01T00:00:00.000Z" });
    const webp = await sharp(await png()).webp().toBuffer();
    const second = await store.put(generation, { bytes: webp }, "onemin", { createdAt: "2026-01-02T00:00:00.000Z" });
    const slot = `${first.key}.${second.sha256.slice(0, 16)}`;
    expect(second.file).toBe(`${slot}.webp`);
    expect((await readdir(dir)).sort()).toEqual([`${first.key}.jpg`, `${first.key}.json`, `${slot}.json`, `${slot}.webp`].sort());
    // The same bytes again are the same candidate.
    expect((await store.put(generation, { bytes: webp }, "onemin")).file).toBe(second.file);
    expect((await readdir(dir)).length).toBe(4);

    expect(await store.keys()).toEqual([first.key]);
    expect((await store.candidates(first.key)).map((meta) => meta.sha256)).toEqual([first.sha256, second.sha256]);
    expect((await store.readMeta(first.key, first.sha256))?.file).toBe(first.file);
    expect((await store.readMeta(first.key, second.sha256))?.file).toBe(second.file);
    expect(await store.readMeta(first.key, "f".repeat(64))).toBeUndefined();
    expect(Buffer.compare(await store.readOriginal(second), webp)).toBe(0);
    // Without a sha256: the one made last, until a person chooses another.
    expect((await store.readMeta(first.key))?.sha256).toBe(second.sha256);
    await store.markChosen(first, new Date("2026-01-03T00:00:00.000Z"));
    expect((await store.readMeta(first.key))?.sha256).toBe(first.sha256);
    expect((await store.readMeta(first.key))?.chosenAt).toBe("2026-01-03T00:00:00.000Z");

    await store.delete(first.key);
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses a later candidate's metadata that names another file or sha256", async () => {
    const store = new Store(dir);
    await store.put(generation, { bytes: await png() }, "onemin");
    const second = await store.put(generation, { bytes: await sharp(await png()).webp().toBuffer() }, "onemin");
    const file = join(dir, `${second.file.slice(0, -".webp".length)}.json`);
    const meta = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify({ ...meta, sha256: "a".repeat(64) }));
    await expect(store.candidates(second.key)).rejects.toThrow(/"sha256" does not start with/);
    await writeFile(file, JSON.stringify({ ...meta, file: `${second.key}.png` }));
    await expect(store.candidates(second.key)).rejects.toThrow(/"file" is not/);
  });

  it("refuses bytes that are not an image, and truncated images", async () => {
    const store = new Store(dir);
    await expect(store.put(generation, { bytes: new TextEncoder().encode("<html>") }, "onemin")).rejects.toThrow(
      ImagegenError,
    );
    await expect(store.put(generation, { bytes: new TextEncoder().encode("<html>") }, "onemin")).rejects.toThrow(
      /Provider "onemin" returned 6 bytes that do not decode as an image for "a red fox, watercolor"/,
    );
    const whole = await sharp({ create: { width: 512, height: 512, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 60 } } })
      .png()
      .toBuffer();
    await expect(store.put(generation, { bytes: whole.subarray(0, whole.length / 2) }, "onemin")).rejects.toThrow(
      ImagegenError,
    );
    // Its size kept, one byte of its pixels changed on the way: the chunk's CRC no longer matches.
    const changed = Buffer.from(whole);
    changed[changed.length >> 1]! ^= 0xff;
    await expect(store.put(generation, { bytes: changed }, "onemin")).rejects.toThrow(/do not decode as an image/);
    // Cut just before its end chunk.
    await expect(store.put(generation, { bytes: whole.subarray(0, whole.length - 12) }, "onemin")).rejects.toThrow(/do not decode as an image/);
    expect(await readdir(dir).catch(() => [])).toEqual([]);
  });

  it("decodes again any array this process has not seen decode whole, a copy or a part of one included", async () => {
    const whole = await sharp({ create: { width: 256, height: 256, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 60 } } })
      .png()
      .toBuffer();
    const checked = new Uint8Array(whole);
    await checkWholeImage(checked, await sharp(checked).metadata());
    expect(checkedWholeImage(checked)).toMatchObject({ format: "png", width: 256, height: 256 });
    expect(checkedWholeImage(new Uint8Array(checked))).toBeUndefined();
    const meta = await new Store(dir).put(generation, { bytes: checked }, "onemin");
    expect(meta).toMatchObject({ format: "png", width: 256, height: 256, sha256: sha256Hex(whole) });

    // A truncated copy of checked bytes is a new array: the store decodes it, and refuses it.
    const cut = checked.subarray(0, checked.length / 2);
    expect(checkedWholeImage(cut)).toBeUndefined();
    await expect(new Store(dir).put({ ...generation, prompt: "cut" }, { bytes: cut }, "onemin")).rejects.toThrow(/do not decode as an image/);
  });

  it("refuses a tampered original, naming the file and the fix", async () => {
    const store = new Store(dir);
    const meta = await store.put(generation, { bytes: await png() }, "onemin");
    await writeFile(join(dir, meta.file), await png(1024, 1000));
    const error = await store.readOriginal(meta).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImagegenError);
    expect((error as Error).message).toContain(join(dir, meta.file));
    expect((error as Error).message).toContain("does not match the sha256");
    expect((error as Error).message).toContain("imagegen generate");
  });

  it("says what to do when the bytes of an entry are gone", async () => {
    const store = new Store(dir);
    const meta = await store.put(generation, { bytes: await png() }, "onemin");
    await rm(join(dir, meta.file));
    await expect(store.readOriginal(meta)).rejects.toThrow(/is missing .* refers to it; restore it/);
  });

  it("reports a truncated metadata file with its path and the fix", async () => {
    const store = new Store(dir);
    const meta = await store.put(generation, { bytes: await png() }, "onemin");
    const file = join(dir, `${meta.key}.json`);
    const text = await readFile(file, "utf8");
    await writeFile(file, text.slice(0, text.length / 2));
    const error = await store.readMeta(meta.key).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImagegenError);
    expect((error as Error).message).toBe(
      `${file} is not valid JSON (truncated or edited?); delete it and run \`imagegen generate\`.`,
    );
  });

  it("refuses metadata whose file name points outside the store", async () => {
    const store = new Store(dir);
    const meta = await store.put(generation, { bytes: await png() }, "onemin");
    const file = join(dir, `${meta.key}.json`);
    await writeFile(file, JSON.stringify({ ...meta, file: "../../etc/passwd" }));
    await expect(store.readMeta(meta.key)).rejects.toThrow(/"file" is not/);
  });

  it("answers undefined for an absent key and lists nothing in a missing folder", async () => {
    const store = new Store(join(dir, "nothing-here"));
    expect(await store.readMeta("0123456789abcdef0123")).toBeUndefined();
    expect(await store.keys()).toEqual([]);
  });

  it("deletes an entry, and lists only committed entries", async () => {
    const store = new Store(dir);
    const meta = await store.put(generation, { bytes: await png() }, "onemin");
    const other = await store.put({ ...generation, variant: "b" }, { bytes: await png() }, "onemin");
    // Bytes without metadata: a write killed before its commit point.
    await writeFile(join(dir, "ffffffffffffffffffff.png"), await png());
    expect(await store.keys()).toEqual([meta.key, other.key].sort());
    await store.delete(meta.key);
    expect(await store.keys()).toEqual([other.key]);
    expect((await readdir(dir)).filter((name) => name.startsWith(meta.key))).toEqual([]);
    await store.delete(meta.key);
  });
});
