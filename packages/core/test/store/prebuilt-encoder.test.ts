import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DerivedCache, ENCODER_FILE, describeEncoder, prebuiltEncoder } from "../../src/store/derived-cache.js";

// The cache may not import sharp to name its encoder when the prebuilt packages say it: a cold CI
// build whose renditions all come from the remote store would pay ~150 ms for it.
vi.mock("../../src/sharp.js", () => ({
  loadSharp: () => Promise.reject(new Error("sharp was imported to name the encoder")),
}));

const installedSharpDir = dirname(dirname(createRequire(import.meta.url).resolve("sharp")));
const platform = process.platform === "linux" ? `linux-${process.arch}` : `${process.platform}-${process.arch}`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "imagegen-encoder-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the encoder read from sharp's prebuilt packages", () => {
  it("is what the installed sharp itself says", () => {
    expect(prebuiltEncoder(installedSharpDir)).toBe(describeEncoder(sharp));
  });

  it("names the encoder of a fresh cache without importing sharp, and remembers it", async () => {
    expect(await new DerivedCache(dir).encoder()).toBe(describeEncoder(sharp));
    expect(JSON.parse(await readFile(join(dir, ENCODER_FILE), "utf8")).encoder).toBe(describeEncoder(sharp));
  });

  /** A node_modules with a sharp package and the prebuilt packages beside it, as npm and pnpm lay them out. */
  async function fakeSharp(platforms = [platform]) {
    const modules = join(dir, "node_modules");
    await writePackage(join(modules, "sharp"), { name: "sharp", version: "9.8.7" }, {});
    await mkdir(join(modules, "sharp", "dist"));
    for (const name of platforms) {
      await writePackage(join(modules, "@img", `sharp-${name}`), { name: `@img/sharp-${name}`, exports: { "./sharp.node": "./index.cjs" } }, { "index.cjs": "" });
      await writePackage(
        join(modules, "@img", `sharp-libvips-${name}`),
        { name: `@img/sharp-libvips-${name}`, exports: { "./versions": "./versions.json" } },
        { "versions.json": JSON.stringify({ vips: "8.1.2", webp: "1.2.3", zlib: "1.0.0" }) },
      );
    }
    return join(modules, "sharp");
  }

  it("names sharp's version, libvips and the encoders it reports", async () => {
    expect(prebuiltEncoder(await fakeSharp())).toBe("sharp@9.8.7+vips@8.1.2+webp@1.2.3+r1");
  });

  // Each case has its own tree: Node remembers the package.json files it found missing.
  it("is not guessed for a binary built from source, which may link a global libvips", async () => {
    const sharpDir = await fakeSharp();
    await mkdir(join(sharpDir, "src", "build", "Release"), { recursive: true });
    expect(prebuiltEncoder(sharpDir)).toBeUndefined();
  });

  it("is not guessed beside a WebAssembly build, which sharp falls back to on an older CPU", async () => {
    const sharpDir = await fakeSharp();
    await writePackage(join(dirname(sharpDir), "@img", "sharp-wasm32"), { name: "@img/sharp-wasm32", exports: { "./sharp.node": "./index.cjs" } }, { "index.cjs": "" });
    expect(prebuiltEncoder(sharpDir)).toBeUndefined();
  });

  it("is not guessed without the versions of the libvips the binary links", async () => {
    const sharpDir = await fakeSharp();
    await rm(join(dirname(sharpDir), "@img", `sharp-libvips-${platform}`, "versions.json"));
    expect(prebuiltEncoder(sharpDir)).toBeUndefined();
  });

  it.runIf(process.platform === "linux")("is not guessed when both a glibc and a musl binary are installed", async () => {
    expect(prebuiltEncoder(await fakeSharp([`linux-${process.arch}`, `linuxmusl-${process.arch}`]))).toBeUndefined();
  });
});

async function writePackage(folder: string, manifest: object, files: Record<string, string>) {
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "package.json"), JSON.stringify(manifest));
  for (const [name, text] of Object.entries(files)) await writeFile(join(folder, name), text);
}

