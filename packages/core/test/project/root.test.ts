import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findProjectRoot, resolveProjectRoot } from "../../src/project/root.js";

let top: string;
beforeEach(async () => {
  top = await mkdtemp(join(tmpdir(), "imagegen-root-"));
  await mkdir(join(top, "site", "app", "pages"), { recursive: true });
});
afterEach(async () => {
  await rm(top, { recursive: true, force: true });
});

describe("findProjectRoot", () => {
  it("climbs from a framework's source folder to the folder with package.json", async () => {
    await writeFile(join(top, "site", "package.json"), "{}");
    expect(findProjectRoot(join(top, "site", "app"))).toBe(join(top, "site"));
    expect(findProjectRoot(join(top, "site", "app", "pages"))).toBe(join(top, "site"));
    expect(findProjectRoot(join(top, "site"))).toBe(join(top, "site"));
  });

  it("stops at the nearest folder holding a config or a lock, below a package.json", async () => {
    await writeFile(join(top, "site", "package.json"), "{}");
    await writeFile(join(top, "site", "app", "imagegen.config.mjs"), "export default {};");
    expect(findProjectRoot(join(top, "site", "app", "pages"))).toBe(join(top, "site", "app"));
    await writeFile(join(top, "site", "app", "pages", "imagegen.lock.json"), "{}");
    expect(findProjectRoot(join(top, "site", "app", "pages"))).toBe(join(top, "site", "app", "pages"));
  });

  it("is the start folder itself when no folder up to the file system's root is marked", () => {
    // tmpdir() has no package.json above it on this machine; the start is returned as given.
    expect(findProjectRoot(join(top, "site", "app"))).toBe(join(top, "site", "app"));
  });

  it("takes a given root as it is (resolved), and otherwise finds it from the start folder", async () => {
    await writeFile(join(top, "site", "package.json"), "{}");
    expect(resolveProjectRoot(join(top, "elsewhere", ".."), join(top, "site", "app"))).toBe(top);
    expect(resolveProjectRoot(undefined, join(top, "site", "app"))).toBe(join(top, "site"));
  });
});
