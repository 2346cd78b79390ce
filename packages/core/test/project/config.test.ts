import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/project/config.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "imagegen-config-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("resolveOptions", () => {
  it("applies every default once, with absolute paths", async () => {
    const options = await resolveOptions({ root }, {});
    expect(options).toMatchObject({
      root,
      model: "gemini-3-pro-image-preview",
      storeDir: join(root, ".imagegen"),
      lockfilePath: join(root, "imagegen.lock.json"),
      cacheDir: join(root, "node_modules/.cache/imagegen"),
      concurrency: 4,
      maxGenerations: Infinity,
      frozen: false,
      strict: false,
      usingFallbackPlaceholder: true,
      attempts: 4,
      maxRetryAfterMs: 600_000,
    });
    expect(options.provider.id).toBe("placeholder");
  });

  it("reads the deprecated option retries as attempts, with a one-line warning", async () => {
    const warnings: string[] = [];
    const logger = { info: () => {}, warn: (line: string) => warnings.push(line) };
    const options = await resolveOptions({ root, retries: 2, logger }, {});
    expect(options.attempts).toBe(2);
    expect(warnings).toEqual(['The option "retries" in imagegen options is deprecated: it counts attempts, so it is now named "attempts".']);
    warnings.length = 0;
    expect((await resolveOptions({ root, attempts: 3, logger }, {})).attempts).toBe(3);
    expect(warnings).toEqual([]);
  });

  it("reads imagegen.config.ts, and plugin options override it field by field", async () => {
    await writeFile(
      join(root, "imagegen.config.ts"),
      `const concurrency: number = 2;\nexport default { concurrency, store: "art/originals", manifests: ["content/**/*.prompts.yaml"], styles: { noir: "black and white" } };\n`,
    );
    const fromFile = await resolveOptions({ root }, {});
    expect(fromFile).toMatchObject({ concurrency: 2, storeDir: join(root, "art/originals"), styles: { noir: "black and white" } });
    const overridden = await resolveOptions({ root, concurrency: 6, manifests: ["x.prompts.yaml"] }, {});
    // Arrays are replaced, not concatenated.
    expect(overridden).toMatchObject({ concurrency: 6, manifests: ["x.prompts.yaml"], storeDir: join(root, "art/originals") });
  });

  it("imports a config of plain module code itself, evaluating it on every load as c12 does", async () => {
    const counter = `imagegenConfigLoads${Date.now()}`;
    await writeFile(
      join(root, "imagegen.config.ts"),
      `globalThis.${counter} = (globalThis.${counter} ?? 0) + 1;\nexport default { concurrency: globalThis.${counter}, styles: { noir: "black and white" } };\n`,
    );
    const first = await resolveOptions({ root }, {});
    const second = await resolveOptions({ root }, {});
    expect([first.concurrency, second.concurrency]).toEqual([1, 2]);
    expect(first).toMatchObject({ configFile: join(root, "imagegen.config.ts"), styles: { noir: "black and white" } });
    // Imported from a copy beside the other caches, removed once evaluated: a config may hold a key.
    expect(await readdir(join(root, "node_modules", ".cache", "imagegen-config"))).toEqual([]);
  });

  it("reads `import { defineConfig } from \"unplugin-imagegen\"` as the function itself", async () => {
    // What it spares (importing the package's root) is counted in test/entry-imports.test.ts.
    await writeFile(join(root, "imagegen.config.ts"), `import { defineConfig } from "unplugin-imagegen";\n\nexport default defineConfig({ concurrency: 5 });\n`);
    expect(await resolveOptions({ root }, {})).toMatchObject({ concurrency: 5, configFile: join(root, "imagegen.config.ts") });
    expect(await readdir(join(root, "node_modules", ".cache", "imagegen-config"))).toEqual([]);
  });

  it("imports an .mjs config where it is, and sweeps the copies a killed process left", async () => {
    const leftovers = join(root, "node_modules", ".cache", "imagegen-config");
    await mkdir(leftovers, { recursive: true });
    // No process has pid 2^22 + 1 (Linux's pid_max is at most 2^22).
    await writeFile(join(leftovers, "4194305-1.mjs"), `export default { apiKey: "left behind" };\n`);
    await writeFile(join(root, "imagegen.config.mjs"), `export default { concurrency: 3 };\n`);
    expect((await resolveOptions({ root }, {})).concurrency).toBe(3);
    // In place: nothing copied, so the leftover is still there until a copy is made.
    expect(await readdir(leftovers)).toEqual(["4194305-1.mjs"]);
    await rm(join(root, "imagegen.config.mjs"));
    await writeFile(join(root, "imagegen.config.ts"), `export default { concurrency: 4 };\n`);
    expect((await resolveOptions({ root }, {})).concurrency).toBe(4);
    expect(await readdir(leftovers)).toEqual([]);
  });

  it("leaves a config with relative imports to c12, which resolves them from the config's folder", async () => {
    await writeFile(join(root, "styles.mjs"), `export const styles = { noir: "black and white" };\n`);
    await writeFile(join(root, "imagegen.config.mjs"), `import { styles } from "./styles.mjs";\nexport default { styles };\n`);
    expect((await resolveOptions({ root }, {})).styles).toEqual({ noir: "black and white" });
    await expect(readdir(join(root, "node_modules", ".cache", "imagegen-config"))).rejects.toThrow();
  });

  it("uses the onemin provider when ONEMIN_API_KEY is set", async () => {
    const options = await resolveOptions({ root }, { ONEMIN_API_KEY: "k", ONEMIN_API_URL: "http://127.0.0.1:9" });
    expect(options.provider.id).toBe("onemin");
    expect(options.usingFallbackPlaceholder).toBe(false);
  });

  it.each([
    [{ concurrency: 0 }, /Invalid option "concurrency" in imagegen options: .*/],
    [{ concurrency: "4" }, /Invalid option "concurrency"/],
    [{ provider: "dalle" }, /Invalid option "provider"/],
    [{ provider: { id: "x" } }, /Invalid option "provider"/],
    [{ sise: 1 }, /Unknown option "sise" in imagegen options; allowed: provider, apiKey, /],
    [{ defaults: { size: "8K" } }, /defaults in imagegen options: size must be one of 1K, 2K, 4K \(got "8K"\)/],
    [{ styles: { "../x": "a" } }, /Invalid option "styles/],
  ])("rejects %j with a one-line message", async (bad, message) => {
    const error = await resolveOptions({ root, ...(bad as object) }, {}).catch((e) => e);
    expect(error.message).toMatch(message);
    expect(error.message.split("\n").length).toBeLessThanOrEqual(2);
  });

  it("keeps what 1min.ai makes, and throws away what another apiUrl makes unless asked", async () => {
    const key = { ONEMIN_API_KEY: "fake-config-key" };
    expect((await resolveOptions({ root }, key)).provider).toMatchObject({ id: "onemin", persistent: true, origin: "https://api.1min.ai" });
    const emulated = { ...key, ONEMIN_API_URL: "http://127.0.0.1:9" };
    expect((await resolveOptions({ root }, emulated)).provider).toMatchObject({ persistent: false, origin: "http://127.0.0.1:9" });
    expect((await resolveOptions({ root, persistent: true }, emulated)).provider.persistent).toBe(true);
    expect((await resolveOptions({ root }, { ...emulated, IMAGEGEN_PERSISTENT: "yes" })).provider.persistent).toBe(true);
    await expect(resolveOptions({ root }, { ...emulated, IMAGEGEN_PERSISTENT: "maybe" })).rejects.toThrow(
      'IMAGEGEN_PERSISTENT="maybe" is not understood; use 1, true, yes or on, or 0, false, no or off.',
    );
  });

  it("turns remote writes off for IMAGEGEN_REMOTE_WRITE=0, false, no or off, and refuses what it does not understand", async () => {
    const remote = (value: string | undefined) => resolveOptions({ root, remote: "s3://bucket/prefix" }, { IMAGEGEN_REMOTE_WRITE: value });
    for (const off of ["0", "false", "no", "off", "OFF", " No "]) expect((await remote(off)).remote!.writable, off).toBe(false);
    for (const on of [undefined, "", "1", "true", "yes", "on"]) expect((await remote(on)).remote!.writable, on).toBe(true);
    await expect(remote("nope")).rejects.toThrow('IMAGEGEN_REMOTE_WRITE="nope" is not understood');
  });

  it("takes bucket names with underscores (Google Cloud Storage) and the remote's concurrency", async () => {
    const options = await resolveOptions({ root, remote: { url: "s3://my_team_bucket/site", concurrency: 4 } }, {});
    expect(options.remote).toMatchObject({ url: "s3://my_team_bucket/site", concurrency: 4 });
    await expect(resolveOptions({ root, remote: { url: "s3://b/site", concurrency: 0 } }, {})).rejects.toThrow(
      /Invalid option "remote" in imagegen options: concurrency must be a whole number, 1 or more \(got 0\)/,
    );
  });

  it("names the config file in its errors", async () => {
    await writeFile(join(root, "imagegen.config.mjs"), `export default { maxGenerations: -1 };\n`);
    await expect(resolveOptions({ root }, {})).rejects.toThrow(/Invalid option "maxGenerations" in .*imagegen\.config\.mjs/);
  });

  it("fails clearly when an explicit config file is missing", async () => {
    await expect(resolveOptions({ root, configFile: "nope.config.ts" }, {})).rejects.toThrow(/Could not load the imagegen config .*nope\.config\.ts/);
  });
});

describe("resolveOptions with an AI SDK model as provider (SPEC §14)", () => {
  const imageModel = {
    specificationVersion: "v3" as const,
    provider: "openai.image",
    modelId: "gpt-image-1.5",
    doGenerate: async () => ({ images: [], warnings: [] }),
  };

  it("makes it the provider, names every key's model after it, and says which aspects it makes", async () => {
    const options = await resolveOptions({ root, provider: imageModel }, { OPENAI_API_KEY: "sk-test-1234567890" });
    expect(options.provider.id).toBe("openai:gpt-image-1.5");
    expect(options).toMatchObject({ model: "openai:gpt-image-1.5", nativeAspects: ["1:1", "3:2", "2:3"], usingFallbackPlaceholder: false });
    // The provider package's key from the environment is blanked from what the CLI prints.
    expect(options.secrets).toContain("sk-test-1234567890");
  });

  it("the config file's model is what the CLI keys with; a plugin's model is the plugin's", async () => {
    await writeFile(join(root, "imagegen.config.mjs"), "export default { model: 'gemini-3-pro-image-preview' };\n");
    const options = await resolveOptions({ root, provider: imageModel, model: undefined }, {}).catch((error: Error) => error);
    expect((options as Error).message).toMatch(/Invalid option "model" in .*imagegen\.config\.mjs: "gemini-3-pro-image-preview" is not the model of provider openai:gpt-image-1\.5/);
    const other = await mkdtemp(join(tmpdir(), "imagegen-config-"));
    const plugin = await resolveOptions({ root: other, provider: imageModel }, {});
    await rm(other, { recursive: true, force: true });
    expect(plugin.model).toBe("openai:gpt-image-1.5");
    expect(plugin.configKeyOptions).toMatchObject({ model: "gemini-3-pro-image-preview", nativeAspects: [] });
  });

  it("a custom provider that names its model gets the same treatment", async () => {
    const provider = { id: "relay", model: { name: "relay:flux", nativeAspects: ["16:9"] }, generate: async () => new Uint8Array() };
    const options = await resolveOptions({ root, provider }, {});
    expect(options).toMatchObject({ model: "relay:flux", nativeAspects: ["16:9"] });
  });
});
