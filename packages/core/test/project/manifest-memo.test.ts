import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseManifestRemembered } from "../../src/project/manifest-memo.js";
import { parseManifest } from "../../src/spec/manifest.js";

let cacheDir: string;
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), "imagegen-manifest-memo-"));
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

const file = "/project/src/site.prompts.yaml";
const text = (prompt: string) => `defaults:\n  size: 1K\n  w: [320]\nimages:\n  hero:\n    prompt: ${prompt}\n    alt: A hero\n`;

describe("parseManifestRemembered", () => {
  it("gives what parseManifest gives, from one memo per manifest that an edit replaces", async () => {
    const first = parseManifestRemembered(text("a lighthouse"), file, cacheDir);
    expect(first).toEqual(parseManifest(text("a lighthouse"), file));
    expect(parseManifestRemembered(text("a lighthouse"), file, cacheDir)).toEqual(first);
    expect(await readdir(join(cacheDir, "manifests"))).toHaveLength(1);

    const edited = parseManifestRemembered(text("a windmill"), file, cacheDir);
    expect(edited.images[0]!.options.prompt).toBe("a windmill");
    expect(await readdir(join(cacheDir, "manifests"))).toHaveLength(1);
  });

  it("remembers no manifest that fails, and reports it every time", async () => {
    const broken = "images:\n  hero:\n    prompt: a\n    prompt: b\n";
    for (let i = 0; i < 2; i++) expect(() => parseManifestRemembered(broken, file, cacheDir)).toThrow(/4:5: duplicate key "prompt"/);
    await expect(readdir(join(cacheDir, "manifests"))).rejects.toThrow();
  });
});
