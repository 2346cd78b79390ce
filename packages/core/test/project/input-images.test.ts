import { mkdir, mkdtemp, open, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ImagegenError } from "../../src/errors.js";
import { MAX_INPUT_BYTES, hashInputs } from "../../src/project/input-images.js";
import { sha256Hex } from "../../src/spec/key.js";
import { parseGenId } from "../../src/spec/parse-gen-id.js";
import { resolveSpec } from "../../src/spec/resolve-spec.js";
import { DEFAULT_MODEL } from "../../src/spec/spec.js";

let root: string;
let outside: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "imagegen-inputs-"));
  outside = await mkdtemp(path.join(tmpdir(), "imagegen-outside-"));
  await mkdir(path.join(root, "src/photos"), { recursive: true });
  await sharp({ create: { width: 8, height: 8, channels: 3, background: "#c33" } }).png().toFile(path.join(root, "src/photos/beach.png"));
  await writeFile(path.join(root, "src/photos/notes.png"), "not an image at all");
  // Sparse: a file over the limit without writing its bytes.
  const big = await open(path.join(root, "src/photos/huge.png"), "w");
  await big.truncate(MAX_INPUT_BYTES + 1);
  await big.close();
  await sharp({ create: { width: 8, height: 8, channels: 3, background: "#33c" } }).png().toFile(path.join(outside, "secret.png"));
  await symlink(path.join(outside, "secret.png"), path.join(root, "src/photos/link.png"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const importer = () => path.join(root, "src/main.ts");
const hash = (id: string) =>
  hashInputs(
    resolveSpec(parseGenId(id, importer()), { model: DEFAULT_MODEL, defaults: {}, styles: {}, root, source: { file: importer(), line: 1, column: 8, id } }),
    root,
  );

async function failure(id: string): Promise<string> {
  const error = await hash(id).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImagegenError);
  return (error as Error).message;
}

describe("hashInputs", () => {
  test("fills in the sha256 of each input's bytes", async () => {
    const spec = await hash("gen:x?edit=./photos/beach.png");
    expect(spec.generation.inputs![0]!.sha256).toBe(sha256Hex(await readFile(path.join(root, "src/photos/beach.png"))));
  });

  test.each([
    ["gen:x?edit=./photos/missing.png", 'edit "./photos/missing.png" does not exist (looked for src/photos/missing.png)'],
    ["gen:x?ref=./photos", 'ref "./photos" is not a file (src/photos)'],
    ["gen:x?edit=./photos/notes.png", 'edit "./photos/notes.png" is not an image ('],
    ["gen:x?ref=./photos/huge.png", 'ref "./photos/huge.png" is 20.0 MB (20971521 bytes); an input may be at most 20971520 bytes (20 MB): make it smaller'],
    ["gen:x?edit=./photos/link.png", 'edit "./photos/link.png" links outside the project root'],
  ])("%s fails naming the parameter, the path and the import", async (id, problem) => {
    const message = await failure(id);
    expect(message).toContain(`${importer()}:1:8 (import "${id}"): ${problem}`);
    expect(message.split("\n")).toHaveLength(1);
  });

  test("a root-level name that starts with two dots is inside the root", async () => {
    await mkdir(path.join(root, "..assets"), { recursive: true });
    await sharp({ create: { width: 8, height: 8, channels: 3, background: "#3c3" } }).png().toFile(path.join(root, "..assets/x.png"));
    const spec = await hash("gen:x?edit=/..assets/x.png");
    expect(spec.generation.inputs![0]!.path).toBe("..assets/x.png");
  });

  test("a copy that keeps the size and the modification time (cp -p) is hashed again", async () => {
    const file = path.join(root, "src/photos/copied.png");
    await sharp({ create: { width: 8, height: 8, channels: 3, background: "#c33" } }).png().toFile(file);
    const first = (await hash("gen:x?edit=./photos/copied.png")).generation.inputs![0]!.sha256;
    const { mtime, size } = await stat(file);
    // Other pixels, the same length (an 8×8 PNG of one colour), the old mtime put back as cp -p does.
    const other = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#3cc" } }).png().toBuffer();
    expect(other.length).toBe(size);
    await writeFile(file, other);
    await utimes(file, mtime, mtime);
    const second = (await hash("gen:x?edit=./photos/copied.png")).generation.inputs![0]!.sha256;
    expect(second).not.toBe(first);
    expect(second).toBe(sha256Hex(other));
  });
});
