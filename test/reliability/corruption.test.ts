import { readFile, readdir, rm, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";
import { importing, reliabilityProject, viteBuild } from "./support/project.js";

const ID = "gen:a lighthouse at dawn?w=64;128&format=webp;jpeg";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator?.close());

/** A project built once: its original is stored, locked and rendered. */
async function builtProject() {
  const root = await reliabilityProject(importing(ID));
  const build = () => viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url });
  const first = await build();
  expect(first.error).toBeUndefined();
  const lock = JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8"));
  const [key] = Object.keys(lock.images) as [string];
  const sha = lock.images[key].sha256 as string;
  const where = `${root}/src/main.js (import "${ID}")`;
  const damaged = `The stored original of "a lighthouse at dawn" (${where}), locked in imagegen.lock.json with sha256 ${sha.slice(0, 12)}…, is damaged:`;
  const fix = `Restore .imagegen/ from git (or your CI cache), or run \`imagegen generate --force ${key}\` to make a new image.`;
  emulator.reset();
  return { root, key, build, damaged, fix, assets: assetsOf(first.output) };
}

function assetsOf(output: Awaited<ReturnType<typeof viteBuild>>["output"]): Record<string, string> {
  const assets: Record<string, string> = {};
  for (const file of output?.output ?? []) {
    if (file.type === "asset" && /\.(webp|jpg)$/.test(file.fileName)) assets[file.fileName] = Buffer.from(file.source).toString("base64");
  }
  return assets;
}

describe("a damaged store is reported against the lock, never silently reused or regenerated", () => {
  it("an original whose bytes changed (other size): the build fails with the lock's sha256 and the commands that fix it", async () => {
    const { root, key, build, damaged, fix } = await builtProject();
    const other = await sharp({ create: { width: 32, height: 32, channels: 3, background: "#f00" } }).png().toBuffer();
    await writeFile(path.join(root, ".imagegen", `${key}.png`), other);
    const result = await build();
    expect(result.message).toBe(`${damaged} .imagegen/${key}.png does not match the sha256 in .imagegen/${key}.json (changed or truncated). ${fix}`);
    expect(emulator.requests).toHaveLength(0);
  });

  it("an original whose bytes changed in place (same size): caught when the bytes are read, on a cold cache", async () => {
    const { root, key, build, damaged, fix } = await builtProject();
    const file = path.join(root, ".imagegen", `${key}.png`);
    const bytes = await readFile(file);
    bytes[bytes.length - 20] ^= 0xff;
    await writeFile(file, bytes);
    await rm(path.join(root, "node_modules", ".cache"), { recursive: true });
    const result = await build();
    expect(result.message).toBe(`${damaged} .imagegen/${key}.png does not match the sha256 in .imagegen/${key}.json (changed or truncated). ${fix}`);
    expect(emulator.requests).toHaveLength(0);
  });

  it("a missing original: named, with the same fixes", async () => {
    const { root, key, build, damaged, fix } = await builtProject();
    await rm(path.join(root, ".imagegen", `${key}.png`));
    const result = await build();
    expect(result.message).toBe(`${damaged} .imagegen/${key}.png is missing but .imagegen/${key}.json refers to it. ${fix}`);
    expect(emulator.requests).toHaveLength(0);
  });

  it("truncated metadata: the build fails; `imagegen generate --force <key>` from the message repairs it", async () => {
    const { root, key, build, damaged, fix } = await builtProject();
    const meta = path.join(root, ".imagegen", `${key}.json`);
    await truncate(meta, 40);
    const result = await build();
    expect(result.message).toBe(`${damaged} .imagegen/${key}.json is not valid JSON (truncated or edited?). ${fix}`);
    expect(emulator.requests).toHaveLength(0);

    const repaired = await runCli(["generate", "--force", key], { cwd: root, apiUrl: emulator.url });
    expect(repaired.code).toBe(0);
    expect(emulator.requests).toHaveLength(1);
    expect((await build()).error).toBeUndefined();
    expect(emulator.requests).toHaveLength(1);
  });

  it("a corrupted derived-cache entry is silently made again, byte for byte the same", async () => {
    const { root, build, assets } = await builtProject();
    const cache = path.join(root, "node_modules", ".cache", "imagegen");
    const files = (await readdir(cache)).sort();
    const variant = files.find((f) => f.endsWith(".webp"))!;
    const json = files.find((f) => f.endsWith(".json"))!;

    await writeFile(path.join(cache, variant), "not a webp any more");
    const afterVariant = await build();
    expect(afterVariant.error).toBeUndefined();
    expect(assetsOf(afterVariant.output)).toEqual(assets);
    expect(await sharp(path.join(cache, variant)).metadata()).toMatchObject({ format: "webp" });

    // The memo of the last build's reads (reads.json) still holds the entry: the variants, checked
    // against their sha256, are all a build needs. Truncated too, the entry is made again.
    await truncate(path.join(cache, json), 10);
    const afterJson = await build();
    expect(afterJson.error).toBeUndefined();
    expect(assetsOf(afterJson.output)).toEqual(assets);
    await truncate(path.join(cache, "reads.json"), 10);
    const afterBoth = await build();
    expect(afterBoth.error).toBeUndefined();
    expect(assetsOf(afterBoth.output)).toEqual(assets);
    expect(JSON.parse(await readFile(path.join(cache, json), "utf8")).variants).toHaveLength(4);
    expect(emulator.requests).toHaveLength(0);
  });

  it("the memo of the last build's reads never hides a damaged store: an edited metadata file is read again", async () => {
    const { root, key, build, damaged, fix } = await builtProject();
    expect((await build()).error).toBeUndefined();
    const memo = JSON.parse(await readFile(path.join(root, "node_modules", ".cache", "imagegen", "reads.json"), "utf8"));
    expect(Object.keys(memo.metas)).toEqual([path.join(root, ".imagegen", `${key}.json`)]);
    // Valid JSON, of the same length, that is no longer the original's metadata.
    const metaFile = path.join(root, ".imagegen", `${key}.json`);
    const text = await readFile(metaFile, "utf8");
    await writeFile(metaFile, text.replace(`"key": "${key}"`, `"key": "${"0".repeat(key.length)}"`));
    const result = await build();
    expect(result.message).toMatch(new RegExp(`^${escape(damaged)} \\.imagegen/${key}\\.json is not valid store metadata \\(.+\\)\\. ${escape(fix)}$`));
    expect(emulator.requests).toHaveLength(0);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
