import { describe, expect, test } from "vitest";
import { ImagegenError } from "../../src/errors.js";
import { validateDefaults } from "../../src/spec/image-options-schema.js";
import { originalKey } from "../../src/spec/key.js";
import { parseManifest } from "../../src/spec/manifest.js";
import { parseGenId } from "../../src/spec/parse-gen-id.js";
import { type ResolveContext, resolveSpec } from "../../src/spec/resolve-spec.js";
import { DEFAULT_MODEL, type GenerationParams, type ImageOptions } from "../../src/spec/spec.js";

const ROOT = "/app";
const IMPORTER = "/app/src/pages/home.ts";
const context = (id: string): ResolveContext => ({
  model: DEFAULT_MODEL,
  defaults: {},
  styles: {},
  root: ROOT,
  source: { file: IMPORTER, line: 3, column: 20, id },
});
const resolveId = (id: string) => resolveSpec(parseGenId(id, IMPORTER), context(id));

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ImagegenError);
    return (error as Error).message;
  }
  throw new Error("expected an ImagegenError");
}

const PLAIN: GenerationParams = {
  model: DEFAULT_MODEL,
  prompt: "a lighthouse at dawn",
  size: "1K",
  temperature: 1,
  topP: 0.95,
  variant: "",
};
const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const input = (role: "edit" | "ref", path: string, sha256: string) => ({ role, written: `./${path}`, file: `${ROOT}/${path}`, path, sha256 });

describe("edit and ref", () => {
  test("parse from a gen: id, ref as a ;-separated list", () => {
    expect(parseGenId("gen:Make the sky stormy?edit=./photos/beach.jpg&ref=../brand/style.png;/brand/logo.png")).toMatchObject({
      edit: "./photos/beach.jpg",
      ref: ["../brand/style.png", "/brand/logo.png"],
    });
  });

  test("resolve against the importing file, or the root for a leading /, edit first", () => {
    const spec = resolveId("gen:x?edit=./photos/beach.jpg&ref=../../brand/style.png;/brand/logo.png");
    expect(spec.generation.inputs).toEqual([
      { role: "edit", written: "./photos/beach.jpg", file: "/app/src/pages/photos/beach.jpg", path: "src/pages/photos/beach.jpg" },
      { role: "ref", written: "../../brand/style.png", file: "/app/brand/style.png", path: "brand/style.png" },
      { role: "ref", written: "/brand/logo.png", file: "/app/brand/logo.png", path: "brand/logo.png" },
    ]);
  });

  test("an image without inputs has no inputs field and the key it always had", () => {
    expect(resolveId("gen:a lighthouse at dawn").generation).not.toHaveProperty("inputs");
    // The key of this request before inputs existed: it must never change.
    expect(originalKey(PLAIN)).toBe("84cad64ced791b733c1c");
  });

  test("the key follows the inputs' bytes and roles, not their paths", () => {
    const edit = originalKey({ ...PLAIN, inputs: [input("edit", "photos/beach.jpg", SHA_A)] });
    expect(edit).not.toBe(originalKey(PLAIN));
    expect(originalKey({ ...PLAIN, inputs: [input("edit", "moved/renamed.jpg", SHA_A)] })).toBe(edit);
    expect(originalKey({ ...PLAIN, inputs: [input("edit", "photos/beach.jpg", SHA_B)] })).not.toBe(edit);
    expect(originalKey({ ...PLAIN, inputs: [input("ref", "photos/beach.jpg", SHA_A)] })).not.toBe(edit);
    // An input whose bytes were never read has no key: it would collide with the plain prompt.
    expect(() => originalKey({ ...PLAIN, inputs: [{ ...input("edit", "a.png", SHA_A), sha256: undefined }] })).toThrow(/not hashed/);
  });

  test.each([
    ["gen:x?ref=./a.png;./b.png;./c.png", 'ref takes at most 2 paths to image files (got 3)'],
    ["gen:x?edit=", 'edit must be a path to an image file, like "./photos/beach.jpg" (got "")'],
    ["gen:x?edit=./a.png&edit=./b.png", 'parameter "edit" is given twice'],
  ])("%s is refused, naming the parameter and the importing file", (id, message) => {
    const text = errorOf(() => parseGenId(id, IMPORTER));
    expect(text).toContain(message);
    expect(text).toContain(IMPORTER);
  });

  test.each([["edit=../../../etc/passwd.png"], ["ref=/../outside.png"], ["edit=/"]])("%s outside the root is refused", (query) => {
    const id = `gen:x?${query}`;
    const text = errorOf(() => resolveId(id));
    expect(text).toMatch(new RegExp(`^/app/src/pages/home\\.ts:3:20 \\(import ".*"\\): (edit|ref) ".*" is outside the project root \\(/app\\)`));
  });

  test("manifests take edit: and ref: (a path or a list) relative to the manifest, defaults included", () => {
    const manifest = parseManifest(
      ["defaults:", "  ref: ./brand/style.png", "images:", "  hero:", "    prompt: a beach", "    edit: ./photos/beach.jpg", "  logo:", "    prompt: a logo", "    ref: [./a.png, ./b.png]"].join("\n"),
      "/app/src/site.prompts.yaml",
    );
    const inputs = (options: ImageOptions, name: string) =>
      resolveSpec(options, { ...context(""), source: { file: "/app/src/site.prompts.yaml", name } }).generation.inputs?.map(
        ({ role, path }) => `${role} ${path}`,
      );
    expect(inputs(manifest.images[0]!.options, "hero")).toEqual(["edit src/photos/beach.jpg", "ref src/brand/style.png"]);
    expect(inputs(manifest.images[1]!.options, "logo")).toEqual(["ref src/a.png", "ref src/b.png"]);
    expect(errorOf(() => parseManifest("images:\n  a:\n    prompt: x\n    ref: [a.png, b.png, c.png]\n", "/app/m.prompts.yaml"))).toBe(
      "/app/m.prompts.yaml:4:10: ref takes at most 2 paths to image files (got 3)",
    );
  });

  test("config defaults cannot hold a path", () => {
    expect(errorOf(() => validateDefaults({ edit: "./a.png" }, "defaults in imagegen.config.ts"))).toBe(
      "defaults in imagegen.config.ts: edit cannot be a config default; set it on the image, or in a manifest's defaults",
    );
  });
});
