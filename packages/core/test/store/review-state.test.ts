import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ImagegenError } from "../../src/errors.js";
import { LockChangedError, LockPolicy, PinnedElsewhereError } from "../../src/store/lock-policy.js";
import { type LockEntry, readLockfile, serializeLockfile } from "../../src/store/lockfile.js";
import { entryRevision, rejected, reviewState, withChoice, withPending } from "../../src/store/review-state.js";
import type { OriginalMeta } from "../../src/store/store.js";

const KEY = "0123456789abcdef0123";
const sha = (c: string) => c.repeat(64);

function entry(sha256: string, review: Partial<Pick<LockEntry, "approved" | "pending">> = {}): LockEntry {
  return { prompt: "a red fox", model: "gemini-3-pro-image-preview", size: "1K", temperature: 1, topP: 0.95, variant: "", sha256, width: 1024, height: 1024, ...review };
}

function meta(sha256: string): OriginalMeta {
  return { ...entry(sha256), key: KEY, provider: "onemin", format: "png", bytes: 10, file: `${KEY}.png`, createdAt: "2026-01-01T00:00:00.000Z" };
}

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "imagegen-review-"));
  path = join(dir, "imagegen.lock.json");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("review states", () => {
  it("are read from the lock entry: an approval counts only for the sha256 it names", () => {
    expect(reviewState(undefined)).toBe("unreviewed");
    expect(reviewState(entry(sha("a")))).toBe("unreviewed");
    expect(reviewState(entry(sha("a"), { approved: sha("a") }))).toBe("approved");
    // Re-pinned by anything but a person's choice (a merge, generate --force): no longer approved.
    expect(reviewState(entry(sha("b"), { approved: sha("a") }))).toBe("unreviewed");
    expect(reviewState(entry(sha("a"), { approved: sha("a"), pending: [sha("b")] }))).toBe("pending");
  });

  it("change as a person decides: a choice that approves declines the rest; reject declines, or withdraws", () => {
    const pending = entry(sha("a"), { approved: sha("a"), pending: [sha("b"), sha("c")] });
    expect(withChoice(pending, entry(sha("b")), true)).toEqual(entry(sha("b"), { approved: sha("b") }));
    expect(withChoice(pending, entry(sha("c")), false)).toEqual(entry(sha("c"), { pending: [sha("b")] }));
    expect(withPending(entry(sha("a")), [sha("a"), sha("b"), sha("b")])).toEqual(entry(sha("a"), { pending: [sha("b")] }));
    expect(rejected(pending)).toEqual(entry(sha("a"), { approved: sha("a") }));
    expect(rejected(entry(sha("a"), { approved: sha("a") }))).toEqual(entry(sha("a")));
  });
});

describe("entryRevision", () => {
  it("is of the entry's value, not of the order of its fields", () => {
    const { prompt, ...rest } = entry(sha("a"), { approved: sha("a") });
    expect(entryRevision({ ...rest, prompt })).toBe(entryRevision(entry(sha("a"), { approved: sha("a") })));
    expect(entryRevision(entry(sha("a")))).not.toBe(entryRevision(entry(sha("a"), { approved: sha("a") })));
    expect(entryRevision(undefined)).toBe("none");
  });
});

describe("the lock's review fields", () => {
  it("come last, so that an entry written before review keeps its bytes and approving adds a line", async () => {
    const before = serializeLockfile({ version: 1, images: { [KEY]: entry(sha("a")) } });
    expect(before).not.toContain("approved");
    const after = serializeLockfile({ version: 1, images: { [KEY]: { pending: [sha("b")], approved: sha("a"), ...entry(sha("a")) } } });
    expect(after.split("\n").slice(-9)).toEqual([
      '      "height": 1024,',
      `      "approved": "${sha("a")}",`,
      '      "pending": [',
      `        "${sha("b")}"`,
      "      ]",
      "    }",
      "  }",
      "}",
      "",
    ]);
    await writeFile(path, after);
    expect((await readLockfile(path)).images[KEY]).toEqual(entry(sha("a"), { approved: sha("a"), pending: [sha("b")] }));
  });

  it("are checked like every field: a bad one names the entry", async () => {
    await writeFile(path, serializeLockfile({ version: 1, images: { [KEY]: { ...entry(sha("a")), pending: ["nope"] } } }));
    await expect(readLockfile(path)).rejects.toThrow(`images["${KEY}"].pending is not a list of sha256 (64 hex digits each)`);
    await writeFile(path, serializeLockfile({ version: 1, images: { [KEY]: { ...entry(sha("a")), approved: "yes" } } }));
    await expect(readLockfile(path)).rejects.toThrow(ImagegenError);
  });
});

describe("LockPolicy's review changes", () => {
  it("a choice re-pins whatever is pinned (pin alone never does), and keeps pending ones that were not chosen", async () => {
    const policy = new LockPolicy(path);
    await policy.pin(meta(sha("a")));
    await policy.addPending(meta(sha("b")));
    await policy.addPending(meta(sha("c")));
    await expect(policy.pin(meta(sha("b")))).rejects.toThrow(PinnedElsewhereError);
    const change = await policy.choose(meta(sha("b")), { approve: true });
    expect(change.before).toEqual(entry(sha("a"), { pending: [sha("b"), sha("c")] }));
    expect((await readLockfile(path)).images[KEY]).toEqual(entry(sha("b"), { approved: sha("b") }));
    // An automatic re-pin (generate --force) keeps nobody's approval.
    policy.reroll(KEY);
    await policy.pin(meta(sha("d")));
    expect((await readLockfile(path)).images[KEY]).toEqual(entry(sha("d")));
  });

  it("refuses a change asked against an entry that changed since, writing nothing: two racing choices leave one", async () => {
    const policy = new LockPolicy(path);
    await policy.pin(meta(sha("a")));
    const seen = entryRevision((await readLockfile(path)).images[KEY]);
    const results = await Promise.allSettled([
      policy.choose(meta(sha("b")), { approve: true, expected: seen }),
      new LockPolicy(path).choose(meta(sha("c")), { approve: true, expected: seen }),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(["fulfilled", "rejected"]);
    const refused = results.find((result) => result.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(LockChangedError);
    const winner = results[0]!.status === "fulfilled" ? sha("b") : sha("c");
    expect((await readLockfile(path)).images[KEY]).toEqual(entry(winner, { approved: winner }));
    const text = await readFile(path, "utf8");
    await expect(policy.review(KEY, () => undefined, seen)).rejects.toThrow(LockChangedError);
    expect(await readFile(path, "utf8")).toBe(text);
  });
});
