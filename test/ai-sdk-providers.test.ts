// SPEC §14: an AI SDK image model as `provider`, written in imagegen.config.ts as a user writes it,
// with the real @ai-sdk/google and @ai-sdk/openai packages over real HTTP against the emulator:
// a Vite build and `imagegen generate` make each image with one request, and nothing more after.
import { copyFile, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { originalKey } from "@imagegen/core";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { AI_SDK, type AiSdkApi, aiSdkConfig, aiSdkModel } from "./support/ai-sdk.js";
import { FAKE_API_KEY, FAKE_GOOGLE_API_KEY, FAKE_OPENAI_API_KEY, listFiles } from "./support/fixture-project.js";
import { importing, reliabilityProject, viteBuild } from "./reliability/support/project.js";
import { runCli } from "./support/run-cli.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: FAKE_API_KEY, googleApiKey: FAKE_GOOGLE_API_KEY, openaiApiKey: FAKE_OPENAI_API_KEY });
});
afterAll(() => emulator?.close());
beforeEach(() => {
  emulator.reset();
  // The provider packages read their keys from the environment, as in a user's shell.
  vi.stubEnv("GOOGLE_GENERATIVE_AI_API_KEY", FAKE_GOOGLE_API_KEY);
  vi.stubEnv("OPENAI_API_KEY", FAKE_OPENAI_API_KEY);
  return () => vi.unstubAllEnvs();
});

const IDS = ["gen:a lighthouse at dawn?w=64&format=webp", "gen:a red fox in the snow?w=32;64&format=avif;png"];

/** A project whose imagegen.config.ts makes every image with `api`'s model. */
async function project(api: AiSdkApi, main = importing(...IDS), config: Parameters<typeof aiSdkConfig>[2] = {}): Promise<string> {
  return reliabilityProject(main, { "imagegen.config.ts": aiSdkConfig(api, emulator.url, config) });
}

/** The metadata of every stored original. */
async function originals(root: string): Promise<Record<string, any>[]> {
  const dir = path.join(root, ".imagegen");
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith(".json"));
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(path.join(dir, name), "utf8"))));
}

const cliEnv = (api: AiSdkApi) => ({ [AI_SDK[api].keyVariable]: AI_SDK[api].key });

describe.each(["google", "openai"] as const)("provider: %s.image(…) in imagegen.config.ts", (api) => {
  const model = `${api}:${AI_SDK[api].modelId}`;

  it("a Vite build makes each image with one request, and a second build makes none", async () => {
    const root = await project(api);
    const first = await viteBuild(root, { root });
    expect(first.error, first.message).toBeUndefined();
    expect(emulator.requests.map((request) => request.path)).toEqual([AI_SDK[api].requestPath, AI_SDK[api].requestPath]);
    expect(first.output!.output.filter((file) => /\.(webp|avif|png)$/.test(file.fileName))).toHaveLength(5);
    const stored = await originals(root);
    expect(stored.map(({ model, provider, width, height }) => ({ model, provider, width, height }))).toEqual([
      { model, provider: model, width: 1024, height: 1024 },
      { model, provider: model, width: 1024, height: 1024 },
    ]);
    const lock = JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8"));
    expect(Object.values(lock.images).map((entry: any) => entry.model)).toEqual([model, model]);
    // Each key is the hash of the model's name and the prompt's parameters.
    const expected = ["a lighthouse at dawn", "a red fox in the snow"].map((prompt) =>
      originalKey({ model, prompt, size: "1K", temperature: 1, topP: 0.95, variant: "" }),
    );
    expect(Object.keys(lock.images).sort()).toEqual(expected.sort());

    const second = await viteBuild(root, { root });
    expect(second.error).toBeUndefined();
    expect(emulator.requests).toHaveLength(2);
  });

  it("imagegen generate makes them with one request each, and the build after it makes none", async () => {
    const root = await project(api);
    const generated = await runCli(["generate"], { cwd: root, env: cliEnv(api) });
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stdout).toContain("0 cached, 2 generated, 0 failed · 2 API requests");
    expect(emulator.requests).toHaveLength(2);
    expect((await originals(root)).map((original) => original.model)).toEqual([model, model]);
    expect((await runCli(["check"], { cwd: root, env: cliEnv(api) })).code).toBe(0);
    const built = await viteBuild(root, { root });
    expect(built.error).toBeUndefined();
    expect(emulator.requests).toHaveLength(2);
  });

  it("a size the model cannot make is one line naming what it can, and no request", async () => {
    const id = "gen:a lighthouse at dawn?size=4K&w=64";
    const root = await project(api, importing(id), { modelId: api === "google" ? "gemini-2.5-flash-image" : AI_SDK[api].modelId });
    const result = await viteBuild(root, { root });
    const name = api === "google" ? "google:gemini-2.5-flash-image" : model;
    expect(result.message).toBe(
      `Could not generate "a lighthouse at dawn" (${root}/src/main.js (import "${id}")) with ${name}: size=4K is not a size it makes; it makes 1K`,
    );
    expect(emulator.requests).toHaveLength(0);
  });
});

describe("what the model is asked", () => {
  it("aspect=16:9 asks Gemini for a 16:9 original (no crop of a square), and only its key includes the aspect", async () => {
    const id = "gen:a harbour at blue hour?aspect=16:9&w=320&format=png";
    const root = await project("google", importing(id));
    const result = await viteBuild(root, { root });
    expect(result.error, result.message).toBeUndefined();
    const sent = emulator.requests[0]!.body as any;
    expect(sent.generationConfig.imageConfig).toEqual({ imageSize: "1K", aspectRatio: "16:9" });
    const [original] = await originals(root);
    expect(original).toMatchObject({ model: "google:gemini-3-pro-image", aspect: "16:9", width: 1376, height: 768 });
    const file = await sharp(path.join(root, ".imagegen", original!.file)).metadata();
    expect([file.width, file.height]).toEqual([1376, 768]);
    const params = { model: "google:gemini-3-pro-image", prompt: "a harbour at blue hour", size: "1K" as const, temperature: 1, topP: 0.95, variant: "" };
    expect(original!.key).toBe(originalKey({ ...params, aspect: "16:9" }));
    expect(original!.key).not.toBe(originalKey(params));
    const png = result.output!.output.find((file) => file.fileName.endsWith(".png")) as { source: Uint8Array };
    const variant = await sharp(png.source).metadata();
    expect([variant.width, variant.height]).toEqual([320, 180]);

    // The same import through 1min.ai: a square original, cropped, under the key it always had.
    const onemin = await reliabilityProject(importing(id));
    emulator.reset();
    const cropped = await viteBuild(onemin, { root: onemin, apiKey: FAKE_API_KEY, apiUrl: emulator.url });
    expect(cropped.error).toBeUndefined();
    expect((emulator.requests[0]!.body as any).promptObject).toEqual({ prompt: "a harbour at blue hour", imageSize: "1K", temperature: 1, topP: 0.95 });
    const [square] = await originals(onemin);
    expect(square).toMatchObject({ model: "gemini-3-pro-image-preview", width: 1024, height: 1024 });
    expect(square).not.toHaveProperty("aspect");
    expect(square!.key).toBe(originalKey({ ...params, model: "gemini-3-pro-image-preview" }));
  });

  it("an edit sends the file to Gemini as an input image; a model that takes none fails in one line, before any request", async () => {
    const photo = path.join(import.meta.dirname, "fixtures", "vite-edits", "src", "photos", "beach.png");
    const id = "gen:the same beach at night?edit=./beach.png&w=64&format=png";
    const root = await project("google", importing(id));
    await copyFile(photo, path.join(root, "src", "beach.png"));
    const result = await viteBuild(root, { root });
    expect(result.error, result.message).toBeUndefined();
    const parts = (emulator.requests[0]!.body as any).contents[0].parts;
    const { createHash } = await import("node:crypto");
    const sha256 = createHash("sha256").update(await readFile(photo)).digest("hex");
    expect(parts).toEqual([{ text: "the same beach at night" }, { inlineData: { mimeType: "image/png", size: expect.any(Number), sha256 } }]);
    const [original] = await originals(root);
    expect(original!.inputs).toEqual([{ role: "edit", path: "src/beach.png", sha256 }]);

    for (const [api, modelId] of [
      ["openai", "dall-e-3"],
      ["google", "imagen-4.0-generate-001"],
    ] as const) {
      const refused = await project(api, importing(id), { modelId });
      await copyFile(photo, path.join(refused, "src", "beach.png"));
      emulator.reset();
      const failed = await viteBuild(refused, { root: refused });
      expect(failed.message).toBe(
        `Could not generate "the same beach at night" (${refused}/src/main.js (import "${id}")) with ${api}:${modelId}: ` +
          "it takes no input images, so edit=./beach.png cannot be sent; use a model that edits, such as google:gemini-3-pro-image or openai:gpt-image-1.5",
      );
      expect(emulator.requests).toHaveLength(0);
    }
  });

  it("OpenAI gets its pixel size for a native aspect and the input images of an edit through /v1/images/edits", async () => {
    const photo = path.join(import.meta.dirname, "fixtures", "vite-edits", "src", "photos", "product.png");
    const ids = ["gen:a tall lighthouse?aspect=2:3&w=64&format=png", "gen:the product on marble?edit=./product.png&w=64&format=png"];
    const root = await project("openai", importing(...ids));
    await copyFile(photo, path.join(root, "src", "product.png"));
    const result = await viteBuild(root, { root });
    expect(result.error, result.message).toBeUndefined();
    const byPath = Object.fromEntries(emulator.requests.map((request) => [request.path, request.body as any]));
    expect(byPath["/v1/images/generations"]).toMatchObject({ model: "gpt-image-1.5", prompt: "a tall lighthouse", n: 1, size: "1024x1536" });
    expect(byPath["/v1/images/edits"]).toMatchObject({ model: "gpt-image-1.5", prompt: "the product on marble", n: "1", size: "1024x1024" });
    expect(byPath["/v1/images/edits"].image).toHaveLength(1);
    const sizes = (await originals(root)).map(({ width, height }) => `${width}x${height}`).sort();
    expect(sizes).toEqual(["1024x1024", "1024x1536"]);
  });

  it("temperature and topP go nowhere: a warning says so, once, and the request carries neither", async () => {
    const ids = ["gen:a lighthouse at dawn?temperature=0.4&w=64", "gen:a red fox?temperature=0.4&w=64"];
    const root = await project("google", importing(...ids));
    const result = await viteBuild(root, { root });
    expect(result.error).toBeUndefined();
    expect(result.log.filter((line) => line.includes("temperature"))).toEqual([
      "temperature=0.4 is not sent to google:gemini-3-pro-image: its AI SDK image model takes no temperature (the key still includes it).",
    ]);
    expect(emulator.requests.map((request) => (request.body as any).generationConfig)).toEqual([
      { responseModalities: ["IMAGE"], imageConfig: { imageSize: "1K" } },
      { responseModalities: ["IMAGE"], imageConfig: { imageSize: "1K" } },
    ]);
  });

  it("model=… of another model is one line naming the provider's model; `model` in the config may only repeat it", async () => {
    const id = "gen:a lighthouse at dawn?model=gemini-3-pro-image-preview&w=64";
    const root = await project("google", importing(id));
    const result = await viteBuild(root, { root });
    expect(result.message).toContain(
      'with google:gemini-3-pro-image: model "gemini-3-pro-image-preview" is not the model of this provider (google:gemini-3-pro-image): leave model out, or set it to "google:gemini-3-pro-image"',
    );
    const configured = await project("google", importing("gen:a fox?w=64"), { extra: ', model: "gpt-image-1.5"' });
    const refused = await runCli(["check"], { cwd: configured, env: cliEnv("google") });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/Invalid option "model" in .*imagegen\.config\.ts: "gpt-image-1\.5" is not the model of provider google:gemini-3-pro-image; leave model out/);
    expect(emulator.requests).toHaveLength(0);
  });

  it("types: defineConfig takes google.image(…) and openai.image(…) as provider, and refuses what is not an image model", async () => {
    const tsc = path.join(import.meta.dirname, "..", "node_modules", "typescript", "bin", "tsc");
    const { execFile } = await import("node:child_process");
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(process.execPath, [tsc, "-p", path.join(import.meta.dirname, "fixtures", "ai-sdk-types")], (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, output: `${stdout}${stderr}` }),
      );
    });
    expect(result).toEqual({ code: 0, output: "" });
  });

  it("Next with Turbopack: a model given to withImagegen cannot reach its loader, which says so in one line; one in imagegen.config.ts works", async () => {
    const { withImagegen } = await import("unplugin-imagegen/next");
    const manifest = "images:\n  harbour:\n    prompt: A fishing harbour at blue hour\n    w: [64]\n";
    const runLoader = async (root: string, options: unknown) => {
      const rules = (withImagegen({}, options as never).turbopack as any).rules;
      const { loader, options: loaderOptions } = rules["*.prompts.yaml"].loaders[0];
      const run = (await import(loader)).default;
      return new Promise<{ error: Error | null; code?: string }>((resolve) => {
        const context = { resourcePath: path.join(root, "src", "site.prompts.yaml"), resourceQuery: "", rootContext: root, getOptions: () => loaderOptions, addDependency() {} };
        run.call({ ...context, async: () => (error: Error | null, code?: string) => resolve({ error, code }) }, manifest);
      });
    };
    const inline = await reliabilityProject(undefined, { "src/site.prompts.yaml": manifest });
    const refused = await runLoader(inline, { root: inline, provider: aiSdkModel("google", emulator.url) });
    expect(refused.error?.message).toBe(
      "withImagegen(nextConfig, { provider }) gave google:gemini-3-pro-image, an object that cannot reach Turbopack's loader (its options are JSON): " +
        "set provider in imagegen.config.ts, which the loader reads, or build with `next build --webpack`.",
    );
    expect(emulator.requests).toHaveLength(0);

    const configured = await project("google", undefined, {});
    await writeFile(path.join(configured, "src", "site.prompts.yaml"), manifest);
    const rendered = await runLoader(configured, { root: configured });
    expect(rendered.error).toBeNull();
    expect(rendered.code).toContain("import ");
    expect(emulator.requests.map((request) => request.path)).toEqual([AI_SDK.google.requestPath]);
  });

  it("moving a project to another model: new keys paid once, and going back pays nothing", async () => {
    const root = await reliabilityProject(importing(IDS[0]!));
    const onemin = { ONEMIN_API_KEY: FAKE_API_KEY, ONEMIN_API_URL: emulator.url };
    expect((await runCli(["generate"], { cwd: root, env: onemin })).code).toBe(0);
    expect(emulator.requests.map((request) => request.path)).toEqual(["/api/features"]);
    await writeFile(path.join(root, "imagegen.config.ts"), aiSdkConfig("google", emulator.url));
    const missing = await runCli(["check"], { cwd: root, env: cliEnv("google") });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^missing +"a lighthouse at dawn"/m);
    expect((await runCli(["generate"], { cwd: root, env: cliEnv("google") })).code).toBe(0);
    expect(emulator.requests.map((request) => request.path)).toEqual(["/api/features", AI_SDK.google.requestPath]);
    const models = (await originals(root)).map((original) => original.model).sort();
    expect(models).toEqual(["gemini-3-pro-image-preview", "google:gemini-3-pro-image"]);
    // Back to 1min.ai: its original is still in the store.
    await writeFile(path.join(root, "imagegen.config.ts"), "export default {};\n");
    const back = await runCli(["generate"], { cwd: root, env: onemin });
    expect(back.code, back.stderr).toBe(0);
    expect(emulator.requests).toHaveLength(2);
    expect((await viteBuild(root, { root, apiKey: FAKE_API_KEY, apiUrl: emulator.url })).error).toBeUndefined();
    expect(emulator.requests).toHaveLength(2);
  });

  it("a model passed to the plugin works as well as one in the config file", async () => {
    const root = await reliabilityProject(importing(IDS[0]!));
    const result = await viteBuild(root, { root, provider: aiSdkModel("openai", emulator.url) });
    expect(result.error, result.message).toBeUndefined();
    expect(emulator.requests).toHaveLength(1);
    expect((await listFiles(path.join(root, ".imagegen"))).length).toBe(2);
  });
});
