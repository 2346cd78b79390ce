import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/project/config.js";
import { discoverSpecs } from "../../src/project/discovery.js";
import { originalKey } from "../../src/spec/key.js";
import { parseManifest } from "../../src/spec/manifest.js";
import { parseGenId } from "../../src/spec/parse-gen-id.js";
import { resolveSpec } from "../../src/spec/resolve-spec.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "imagegen-discovery-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function write(file: string, text: string) {
  await mkdir(dirname(join(root, file)), { recursive: true });
  await writeFile(join(root, file), text);
}

const options = () =>
  resolveOptions({ root, configFile: false, styles: { ink: "ink drawing" }, defaults: { size: "2K" } }, {});

describe("discoverSpecs", () => {
  it("finds imports and manifest images with the keys the plugin computes, one entry per key with every location", async () => {
    await write("src/a.ts", `import a from "gen:a fox?style=ink";\nimport b from "gen:a fox?style=ink&w=320";\n`);
    await write("src/b.jsx", `export { default } from "gen:a harbour?size=4K";\n`);
    await write("src/site.prompts.yaml", "images:\n  hero:\n    prompt: a fox\n    style: ink\n");
    const resolved = await options();
    const { specs, errors, manifests } = await discoverSpecs(resolved);
    expect(errors).toEqual([]);
    expect(manifests.map((m) => m.file)).toEqual([join(root, "src/site.prompts.yaml")]);

    const pluginKey = (id: string) =>
      originalKey(resolveSpec(parseGenId(id), { ...resolved, source: { file: "x" } }).generation);
    const manifest = parseManifest("images:\n  hero:\n    prompt: a fox\n    style: ink\n", "m.prompts.yaml");
    const manifestKey = originalKey(resolveSpec(manifest.images[0]!.options, { ...resolved, source: { file: "m" } }).generation);

    expect(specs.map((s) => s.key)).toEqual([pluginKey("gen:a fox?style=ink"), pluginKey("gen:a harbour?size=4K")]);
    expect(manifestKey).toBe(specs[0]!.key);
    expect(specs[0]!.spec.generation).toMatchObject({ prompt: "a fox, ink drawing", size: "2K" });
    expect(specs[0]!.locations).toEqual([
      { file: join(root, "src/a.ts"), line: 1, column: 15, id: "gen:a fox?style=ink" },
      { file: join(root, "src/a.ts"), line: 2, column: 15, id: "gen:a fox?style=ink&w=320" },
      { file: join(root, "src/site.prompts.yaml"), line: 2, column: 3, name: "hero" },
    ]);
  });

  it("reports a bad import with its file, line and column, and still finds the rest", async () => {
    await write("src/a.ts", `import ok from "gen:fine";\n\nimport bad from "gen:broken?size=3K";\n`);
    await write("src/bad.prompts.yaml", "images:\n  hero:\n    promt: typo\n");
    const { specs, errors } = await discoverSpecs(await options());
    expect(specs.map((s) => s.spec.prompt)).toEqual(["fine"]);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringContaining(`${join(root, "src/bad.prompts.yaml")}:2:3: prompt is missing`),
      expect.stringMatching(new RegExp(`in ${join(root, "src/a.ts")}:3:17: .*size`)),
    ]);
  });

  it("never scans node_modules, build output or the store", async () => {
    await write("src/a.ts", `import a from "gen:kept";\n`);
    for (const dir of ["node_modules/pkg", "src/node_modules/pkg", "dist", "build", ".imagegen"]) {
      await write(`${dir}/x.prompts.yaml`, "images:\n  x:\n    prompt: ignored\n");
    }
    await write("node_modules/pkg/src/index.ts", `import a from "gen:ignored";\n`);
    const { specs, errors } = await discoverSpecs(await resolveOptions({ root, configFile: false, sources: ["**/*.ts"] }, {}));
    expect(errors).toEqual([]);
    expect(specs.map((s) => s.spec.prompt)).toEqual(["kept"]);
  });
});
