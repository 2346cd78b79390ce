import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ImagegenError } from "../../src/errors.js";
import {
  lockEntryFor,
  readLockfile,
  serializeLockfile,
  updateLockfile,
  type LockEntry,
  type LockfileData,
} from "../../src/store/lockfile.js";
import type { OriginalMeta } from "../../src/store/store.js";

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "imagegen-lock-"));
  path = join(dir, "imagegen.lock.json");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(prompt: string): LockEntry {
  return {
    prompt,
    model: "gemini-3-pro-image-preview",
    size: "2K",
    temperature: 1,
    topP: 0.95,
    variant: "",
    sha256: "a".repeat(64),
    width: 2048,
    height: 2048,
  };
}

describe("serializeLockfile", () => {
  it("sorts keys, fixes the field order and ends with a newline", () => {
    const scrambled = {
      height: 10,
      sha256: "b".repeat(64),
      width: 20,
      variant: "x",
      topP: 0.5,
      temperature: 0.2,
      size: "1K",
      model: "m",
      prompt: "p",
    } as LockEntry;
    const text = serializeLockfile({ version: 1, images: { ffff: scrambled, "0000": entry("first") } });
    expect(text).toBe(`{
  "version": 1,
  "images": {
    "0000": {
      "prompt": "first",
      "model": "gemini-3-pro-image-preview",
      "size": "2K",
      "temperature": 1,
      "topP": 0.95,
      "variant": "",
      "sha256": "${"a".repeat(64)}",
      "width": 2048,
      "height": 2048
    },
    "ffff": {
      "prompt": "p",
      "model": "m",
      "size": "1K",
      "temperature": 0.2,
      "topP": 0.5,
      "variant": "x",
      "sha256": "${"b".repeat(64)}",
      "width": 20,
      "height": 10
    }
  }
}
`);
  });

  it("is byte-identical whatever order the entries were added in", () => {
    const keys = ["c3", "a1", "b2", "0f", "a0"];
    const forward: LockfileData = { version: 1, images: {} };
    const backward: LockfileData = { version: 1, images: {} };
    for (const key of keys) forward.images[key] = entry(key);
    for (const key of [...keys].reverse()) backward.images[key] = entry(key);
    expect(serializeLockfile(backward)).toBe(serializeLockfile(forward));
  });

  it("drops fields that are not part of an entry", () => {
    const extra = { ...entry("p"), provider: "onemin" } as LockEntry;
    expect(serializeLockfile({ version: 1, images: { k: extra } })).not.toContain("provider");
  });
});

describe("readLockfile", () => {
  it("reads an absent lockfile as empty", async () => {
    expect(await readLockfile(path)).toEqual({ version: 1, images: {} });
  });

  it("round-trips what updateLockfile wrote", async () => {
    await updateLockfile(path, (lock) => {
      lock.images.abc = entry("a lighthouse");
    });
    expect(await readLockfile(path)).toEqual({ version: 1, images: { abc: entry("a lighthouse") } });
  });

  it("points at a trailing comma with file:line:col and the fix", async () => {
    await writeFile(path, '{\n  "version": 1,\n  "images": {},\n}\n');
    const error = await readLockfile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImagegenError);
    expect((error as Error).message).toMatch(new RegExp(`^${escape(path)}:4:1 is not valid JSON \\(unexpected "}"\\)`));
    expect((error as Error).message).toContain("imagegen generate");
  });

  it("points at a truncated file's end", async () => {
    await writeFile(path, '{\n  "version": 1,\n  "images": {');
    await expect(readLockfile(path)).rejects.toThrow(new RegExp(`^${escape(path)}:3:14 is not valid JSON \\(it ends too early\\)`));
  });

  it("points at a missing comma", async () => {
    await writeFile(path, '{\n  "version": 1\n  "images": {}\n}');
    await expect(readLockfile(path)).rejects.toThrow(new RegExp(`^${escape(path)}:3:3 is not valid JSON`));
  });

  it("names a merge conflict", async () => {
    await writeFile(path, '{\n  "version": 1,\n<<<<<<< HEAD\n  "images": {}\n=======\n  "images": {}\n>>>>>>> main\n}\n');
    await expect(readLockfile(path)).rejects.toThrow(new RegExp(`^${escape(path)}:3:1 has a merge conflict`));
  });

  it("refuses JSON that is not a lockfile", async () => {
    await writeFile(path, '{"version": 2, "images": {}}');
    await expect(readLockfile(path)).rejects.toThrow(/is not an imagegen lockfile \("version" is 2, expected 1\)/);
    await writeFile(path, JSON.stringify({ version: 1, images: { k: { ...entry("p"), size: "8K" } } }));
    await expect(readLockfile(path)).rejects.toThrow(/images\["k"\]\.size is not one of 1K, 2K, 4K/);
  });
});

describe("updateLockfile", () => {
  it("never loses an entry to concurrent updates in one process", async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `key${String(i).padStart(2, "0")}`);
    await Promise.all(
      keys.map((key) =>
        updateLockfile(path, (lock) => {
          lock.images[key] = entry(key);
        }),
      ),
    );
    expect(Object.keys((await readLockfile(path)).images)).toEqual(keys);
    expect(await readdir(dir)).toEqual(["imagegen.lock.json"]);
  });

  it("writes the changes that wait for an update together, in one update", async () => {
    const keys = Array.from({ length: 8 }, (_, i) => `key${i}`);
    const results = await Promise.all(
      keys.map((key) =>
        updateLockfile(path, (lock) => {
          lock.images[key] = entry(key);
        }),
      ),
    );
    // Asked for at once, they were applied in one update: every caller gets the same data back.
    for (const result of results) expect(result).toBe(results[0]);
    expect(Object.keys(results[0]!.images)).toEqual(keys);
    // One asked for while that update runs waits for it, then is written on its own.
    const first = updateLockfile(path, (lock) => {
      lock.images.later1 = entry("later1");
    });
    await Promise.resolve();
    await new Promise((done) => setImmediate(done));
    const second = updateLockfile(path, (lock) => {
      lock.images.later2 = entry("later2");
    });
    expect(Object.keys((await first).images)).not.toContain("later2");
    expect(Object.keys((await second).images)).toEqual([...keys, "later1", "later2"]);
  });

  it("keeps the queue going after a failed change, its edits undone", async () => {
    const failed = updateLockfile(path, (lock) => {
      lock.images.half = entry("half");
      throw new Error("boom");
    });
    const next = updateLockfile(path, (lock) => {
      lock.images.k = entry("p");
    });
    await expect(failed).rejects.toThrow("boom");
    expect(Object.keys((await next).images)).toEqual(["k"]);
  });

  it("writes only when the text changes, and creates no empty lockfile", async () => {
    await updateLockfile(path, () => {});
    await expect(stat(path)).rejects.toThrow();
    await updateLockfile(path, (lock) => {
      lock.images.k = entry("p");
    });
    const before = await stat(path);
    await new Promise((done) => setTimeout(done, 20));
    await updateLockfile(path, (lock) => {
      lock.images.k = entry("p");
    });
    expect((await stat(path)).mtimeMs).toBe(before.mtimeMs);
    expect(await readFile(path, "utf8")).toBe(serializeLockfile({ version: 1, images: { k: entry("p") } }));
  });
});

describe("lockEntryFor", () => {
  it("keeps what decides the original and its hash", () => {
    const meta: OriginalMeta = {
      key: "k",
      ...entry("p"),
      provider: "onemin",
      recordId: "r",
      format: "png",
      bytes: 10,
      file: "k.png",
      createdAt: "2025-01-01T00:00:00.000Z",
    };
    expect(lockEntryFor(meta)).toEqual(entry("p"));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
