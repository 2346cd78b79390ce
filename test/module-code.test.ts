import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { parseAst } from "rollup/parseAst";
import { unpluginImagegen } from "unplugin-imagegen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, captureLogger } from "./support/fixture-project.js";

// The modules the plugin writes, seen from each bundler's side of the factory: no relative
// import (a virtual module has no folder to be relative to), nothing of the importer's path,
// and the same ids and code whatever the importer's path looks like, Windows' included.

const WINDOWS_IMPORTER = "C:\\Users\\me\\site\\src\\main.js";
const WINDOWS_MANIFEST = "C:\\Users\\me\\site\\src\\site.prompts.yaml";
const GEN_ID = "gen:a red fox, watercolor?w=64;128&format=webp;jpeg&aspect=4:3";

let emulator: Emulator;
let root: string;
beforeAll(async () => {
  emulator = await startEmulator();
  const scratch = path.join(path.dirname(fileURLToPath(import.meta.url)), ".tmp");
  await mkdir(scratch, { recursive: true });
  root = await mkdtemp(path.join(scratch, "module-code-"));
});
afterAll(async () => {
  await emulator?.close();
  await rm(root, { recursive: true, force: true });
});

type RawPlugin = Record<string, any>;

function rawPlugin(framework: string): RawPlugin {
  const options = { apiKey: FAKE_API_KEY, apiUrl: emulator.url, root, logger: captureLogger().logger, strict: true };
  return unpluginImagegen.raw(options, { framework } as never) as RawPlugin;
}

/** What a plugin context records of the files the plugin emits. */
function pluginContext(extra: Record<string, unknown> = {}) {
  const emitted: string[] = [];
  return {
    emitted,
    context: {
      emitFile: ({ fileName }: { fileName: string }) => {
        emitted.push(fileName);
        return `ref${emitted.length}`;
      },
      addWatchFile() {},
      error(error: unknown) {
        throw error;
      },
      ...extra,
    },
  };
}

/** Imports of any kind in a module's code. */
function importsOf(code: string): string[] {
  const found: string[] = [];
  const visit = (node: any) => {
    if (!node || typeof node !== "object") return;
    if (["ImportDeclaration", "ImportExpression", "ExportAllDeclaration"].includes(node.type)) found.push(node.source?.value ?? "?");
    if (node.type === "ExportNamedDeclaration" && node.source) found.push(node.source.value);
    for (const value of Object.values(node)) (Array.isArray(value) ? value : [value]).forEach(visit);
  };
  visit(parseAst(code));
  return found;
}

/** Runs a module's code: written to a file and imported. */
async function evaluate(code: string): Promise<Record<string, any>> {
  const file = path.join(root, `module-${Math.random().toString(36).slice(2)}.mjs`);
  await writeFile(file, code);
  return import(/* @vite-ignore */ pathToFileURL(file).href);
}

describe("module code", () => {
  it("resolves a gen: import from a Windows path to a short virtual id, and writes a module that imports nothing", async () => {
    const plugin = rawPlugin("rollup");
    const id = plugin.resolveId(GEN_ID, WINDOWS_IMPORTER);
    expect(id).toMatch(/^\0imagegen:[0-9a-f]{16}\.js$/);
    // The same import from a POSIX importer is the same module.
    expect(plugin.resolveId(GEN_ID, "/home/me/site/src/main.js")).toBe(id);
    expect(plugin.loadInclude(id)).toBe(true);

    const { context, emitted } = pluginContext();
    const code: string = await plugin.load.call(context, id);
    expect(importsOf(code)).toEqual([]);
    expect(code).not.toMatch(/\\|C:|Users|\.\.\//);
    expect(emitted.map((name) => name.replace(/\.[0-9a-f]{10}\./, ".<hash>.")).sort()).toEqual([
      "assets/a-red-fox-watercolor-128.<hash>.jpg",
      "assets/a-red-fox-watercolor-128.<hash>.webp",
      "assets/a-red-fox-watercolor-64.<hash>.jpg",
      "assets/a-red-fox-watercolor-64.<hash>.webp",
    ]);
    expect(code).toContain("import.meta.ROLLUP_FILE_URL_ref");
  });

  it("recognises manifests by Windows paths, with or without a query", () => {
    const plugin = rawPlugin("rollup");
    expect(plugin.loadInclude(WINDOWS_MANIFEST)).toBe(true);
    expect(plugin.loadInclude(`${WINDOWS_MANIFEST}?import`)).toBe(true);
    expect(plugin.loadInclude("C:\\Users\\me\\site\\src\\site.prompts.yml")).toBe(true);
    expect(plugin.loadInclude("C:\\Users\\me\\site\\src\\data.yaml")).toBe(false);
  });

  it("names the Windows importer in the error for a bad parameter", async () => {
    const plugin = rawPlugin("rollup");
    const id = plugin.resolveId("gen:a fox?size=8K", WINDOWS_IMPORTER);
    const { context } = pluginContext();
    await expect(plugin.load.call(context, id)).rejects.toThrow(/size must be one of 1K, 2K, 4K \(got "8K"\)/);
    await expect(plugin.load.call(context, id)).rejects.toThrow(WINDOWS_IMPORTER);
  });

  it("webpack and rspack: swaps a gen: request for its virtual id before resolution, and writes URLs under the runtime public path", async () => {
    const plugin = rawPlugin("webpack");
    let beforeResolve: ((data: { request: string; contextInfo: { issuer: string } }) => void) | undefined;
    const compiler = {
      options: { context: root },
      hooks: {
        normalModuleFactory: {
          tap: (_name: string, callback: (factory: unknown) => void) =>
            callback({ hooks: { beforeResolve: { tap: (_: string, hook: typeof beforeResolve) => (beforeResolve = hook) } } }),
        },
        watchClose: { tap: () => {} },
      },
    };
    plugin.webpack(compiler);
    const data = { request: GEN_ID, contextInfo: { issuer: WINDOWS_IMPORTER } };
    beforeResolve!(data);
    expect(data.request).toMatch(/^\0imagegen:[0-9a-f]{16}\.js$/);
    // What unplugin's resolver then asks: the virtual id resolves to itself.
    expect(plugin.resolveId(data.request, WINDOWS_IMPORTER)).toBe(data.request);
    const other = { request: "./other.js", contextInfo: { issuer: WINDOWS_IMPORTER } };
    beforeResolve!(other);
    expect(other.request).toBe("./other.js");

    const assets: string[] = [];
    const loaderContext = { emitFile: (name: string) => assets.push(name) };
    const { context } = pluginContext({ getNativeBuildContext: () => ({ framework: "webpack", loaderContext }) });
    const code: string = await plugin.load.call(context, data.request);
    expect(importsOf(code)).toEqual([]);
    expect(new Set(assets).size).toBe(4);

    (globalThis as Record<string, unknown>).__webpack_public_path__ = "/static/";
    try {
      const module = await evaluate(code);
      expect(module.default).toMatch(/^\/static\/assets\/a-red-fox-watercolor-128\.[0-9a-f]{10}\.jpg$/);
      expect(assets).toContain(module.default.slice("/static/".length));
      expect(module).toMatchObject({ width: 128, height: 96, format: "jpeg", alt: "a red fox, watercolor" });
      expect(module.srcset).toMatch(/^\/static\/assets\/\S+\.jpg 64w, \/static\/assets\/\S+\.jpg 128w$/);
    } finally {
      delete (globalThis as Record<string, unknown>).__webpack_public_path__;
    }
  });

  it("esbuild: URLs are publicPath + the file name, and the files join outputFiles with write: false", async () => {
    const plugin = rawPlugin("esbuild");
    let onEnd: ((result: { errors: unknown[]; outputFiles: { path: string; contents: Uint8Array }[] }) => Promise<void>) | undefined;
    plugin.esbuild.setup({
      initialOptions: { absWorkingDir: root, outdir: "out", publicPath: "/static", write: false },
      onEnd: (callback: typeof onEnd) => (onEnd = callback),
    });
    plugin.buildStart();
    const id = plugin.resolveId(GEN_ID, WINDOWS_IMPORTER);
    const { context } = pluginContext();
    const module = await evaluate(await plugin.load.call(context, id));
    expect(module.src).toMatch(/^\/static\/assets\/a-red-fox-watercolor-128\.[0-9a-f]{10}\.jpg$/);

    const result = { errors: [], outputFiles: [] as { path: string; contents: Uint8Array }[] };
    await onEnd!(result);
    expect(result.outputFiles.map((file) => path.relative(root, file.path).split(path.sep).join("/")).sort()).toContain(
      `out${module.src.slice("/static".length)}`,
    );
    expect(result.outputFiles.every((file) => file.contents.byteLength > 0)).toBe(true);
  });

  it("esbuild without outdir or outfile: the build fails saying so", async () => {
    const plugin = rawPlugin("esbuild");
    plugin.esbuild.setup({ initialOptions: { absWorkingDir: root }, onEnd() {} });
    const id = plugin.resolveId(GEN_ID, WINDOWS_IMPORTER);
    await expect(plugin.load.call(pluginContext().context, id)).rejects.toThrow(/needs esbuild's `outdir` \(or `outfile`\)/);
  });

  it("writes manifest declarations with the dts option, and leaves an unchanged file alone", async () => {
    const manifest = path.join(root, "site.prompts.yaml");
    await writeFile(manifest, "defaults:\n  w: [64]\n  format: [webp]\nimages:\n  team-photo:\n    prompt: Five people around a whiteboard\n");
    const options = { apiKey: FAKE_API_KEY, apiUrl: emulator.url, root, logger: captureLogger().logger, dts: true };
    const plugin = unpluginImagegen.raw(options, { framework: "rollup" } as never) as RawPlugin;
    const { context } = pluginContext();
    const code: string = await plugin.load.call(context, manifest);
    expect(importsOf(code)).toEqual([]);
    const { readFile, stat } = await import("node:fs/promises");
    const declarations = await readFile(`${manifest}.d.ts`, "utf8");
    expect(declarations).toContain("export declare const teamPhoto: ImagegenImage;");
    expect(declarations).toContain('"team-photo": ImagegenImage;');
    const written = (await stat(`${manifest}.d.ts`)).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await plugin.load.call(context, manifest);
    expect((await stat(`${manifest}.d.ts`)).mtimeMs).toBe(written);
  });
});

describe("a dev manifest module", () => {
  it("keeps an alt text that holds the words of the default export as it is", async () => {
    const { devManifestModuleCode } = await import("../packages/unplugin/src/dev/dev-module-code.js");
    const spec = { alt: "export default { a trap }", output: { formats: ["webp"] } } as never;
    const variant = { format: "webp", width: 64, height: 64 } as const;
    const code = devManifestModuleCode([{ name: "trap", exportName: "trap", image: { spec, rendition: { variants: [variant], placeholder: undefined } } }], () => '"/trap.webp"');
    expect(code).toContain('alt: "export default { a trap }"');
    expect(code).toContain("const __imagegenImages = {\n");
    expect(code.match(/export default/g)).toEqual(["export default", "export default"]);
    expect(code).toContain("export default __imagegenImages;");
    parseAst(code);
  });
});
