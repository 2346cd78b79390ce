import { describe, expect, it } from "vitest";
import { createAiSdkProvider } from "../../src/generate/ai-sdk.js";
import { toProviderError } from "../../src/generate/ai-sdk-errors.js";
import { type AiSdkImageCallOptions, type AiSdkImageModel, aiSdkModelName, isAiSdkImageModel } from "../../src/generate/ai-sdk-model.js";
import { ProviderError, type GenerationRequest } from "../../src/generate/provider.js";

// The adapter's own logic, with models written here; the real @ai-sdk packages over HTTP are in
// test/ai-sdk-providers.test.ts and test/reliability/ai-sdk-faults.test.ts.

const PNG = Buffer.from("89504e470d0a1a0a", "hex");

/** A model that records what it was asked and answers `images` (base64 strings). */
function model(overrides: Partial<AiSdkImageModel> & { answer?: Awaited<ReturnType<AiSdkImageModel["doGenerate"]>> } = {}) {
  const calls: AiSdkImageCallOptions[] = [];
  const { answer = { images: [PNG.toString("base64")], warnings: [] }, ...rest } = overrides;
  const imageModel: AiSdkImageModel = {
    specificationVersion: "v3",
    provider: "google.generative-ai",
    modelId: "gemini-3-pro-image",
    async doGenerate(options) {
      calls.push(options);
      return answer;
    },
    ...rest,
  };
  return { imageModel, calls };
}

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  model: "google:gemini-3-pro-image",
  prompt: "a lighthouse at dawn",
  size: "2K",
  temperature: 1,
  topP: 0.95,
  variant: "",
  ...overrides,
});

function logger() {
  const lines: string[] = [];
  return { lines, logger: { warn: (line: string) => lines.push(line) } };
}

const context = () => ({ signal: new AbortController().signal });

describe("an AI SDK image model as a provider", () => {
  it("is recognised by its interface, and named <provider>:<modelId> whatever the transport", () => {
    const { imageModel } = model();
    expect(isAiSdkImageModel(imageModel)).toBe(true);
    expect(isAiSdkImageModel({ id: "relay", generate() {} })).toBe(false);
    expect(isAiSdkImageModel({ ...imageModel, specificationVersion: "v1" })).toBe(false);
    expect(aiSdkModelName(imageModel)).toBe("google:gemini-3-pro-image");
    expect(aiSdkModelName({ ...imageModel, provider: "google.vertex.image" })).toBe("google:gemini-3-pro-image");
    const provider = createAiSdkProvider(imageModel, logger());
    expect(provider.id).toBe("google:gemini-3-pro-image");
    expect(provider.model?.nativeAspects).toContain("21:9");
  });

  it("asks for one image in the model's own terms and takes the last one returned", async () => {
    const final = Buffer.from("final image bytes");
    const { imageModel, calls } = model({ answer: { images: [PNG.toString("base64"), final.toString("base64")], warnings: [] } });
    const paid: string[] = [];
    const image = await createAiSdkProvider(imageModel, logger()).generate(request({ aspect: "16:9" }), { ...context(), paid: () => paid.push("paid") });
    expect(Buffer.from((image as { bytes: Uint8Array }).bytes).toString()).toBe("final image bytes");
    expect(paid).toEqual(["paid"]);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      prompt: "a lighthouse at dawn",
      n: 1,
      size: undefined,
      aspectRatio: undefined,
      files: undefined,
      providerOptions: { google: { imageConfig: { imageSize: "2K", aspectRatio: "16:9" } } },
    });
    expect(calls[0]!.abortSignal).toBeInstanceOf(AbortSignal);
  });

  it("logs each distinct warning once, in V3's and V2's shapes", async () => {
    const warnings = [
      { type: "unsupported", feature: "seed", details: "no seed here" },
      { type: "other", message: "the model is in preview" },
      { type: "unsupported-setting", setting: "size" },
    ];
    const log = logger();
    const provider = createAiSdkProvider(model({ answer: { images: [PNG.toString("base64")], warnings } }).imageModel, log);
    await provider.generate(request(), context());
    await provider.generate(request(), context());
    expect(log.lines).toEqual([
      "google:gemini-3-pro-image does not support seed: no seed here",
      "google:gemini-3-pro-image: the model is in preview",
      "google:gemini-3-pro-image does not support size",
    ]);
  });

  it("a model of no known family: its default size, no native aspect, and one warning saying so", async () => {
    const log = logger();
    const { imageModel, calls } = model({ provider: "fal.image", modelId: "fal-ai/flux/dev" });
    const provider = createAiSdkProvider(imageModel, log);
    expect(provider.model).toEqual({ name: "fal:fal-ai/flux/dev", nativeAspects: [] });
    const asked = request({ model: "fal:fal-ai/flux/dev", size: "1K" });
    await provider.generate(asked, context());
    await provider.generate(asked, context());
    expect(calls[0]).toMatchObject({ size: undefined, aspectRatio: undefined, providerOptions: {} });
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatch(/^imagegen knows no sizes, aspects or inputs of fal:fal-ai\/flux\/dev/);
    await expect(provider.generate({ ...asked, size: "2K" }, context())).rejects.toThrow("size=2K is not a size it makes; it makes 1K");
  });

  it("input images need an interface that takes them: not v2, not a v4 model that says it takes none", async () => {
    const inputs = [{ role: "edit" as const, written: "./a.png", file: "/nowhere/a.png", path: "a.png", sha256: "0".repeat(64) }];
    for (const overrides of [{ specificationVersion: "v2" as const }, { specificationVersion: "v4" as const, supportsFileInputs: false }]) {
      const { imageModel, calls } = model(overrides);
      const error = await createAiSdkProvider(imageModel, logger()).generate(request({ inputs }), context()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as ProviderError).retryable).toBe(false);
      expect((error as Error).message).toMatch(/edit=\.\/a\.png cannot be sent; use a model that edits/);
      expect(calls).toHaveLength(0);
    }
  });

  it("an answer without an image is retryable only when the model says so", async () => {
    for (const [isRetryable, retryable] of [
      [undefined, false],
      [false, false],
      [true, true],
    ] as const) {
      const { imageModel } = model({ answer: { images: [], warnings: [], ...(isRetryable === undefined ? {} : { isRetryable }) } });
      const error = (await createAiSdkProvider(imageModel, logger()).generate(request(), context()).catch((caught: unknown) => caught)) as ProviderError;
      expect(error.retryable).toBe(retryable);
    }
  });
});

describe("the AI SDK's errors as ProviderErrors", () => {
  /** An error marked as the AI SDK marks its `APICallError`. */
  function apiCallError(fields: Record<string, unknown>): Error {
    return Object.assign(new Error(String(fields["message"] ?? "failed")), {
      [Symbol.for("vercel.ai.error")]: true,
      [Symbol.for("vercel.ai.error.AI_APICallError")]: true,
      url: "https://api.example:8443/v1/images/generations?key=secret-key-123",
      ...fields,
    });
  }

  it("keeps the status, whether to retry, and the wait: retry-after-ms, Retry-After, or Google's RetryInfo", () => {
    const openai = toProviderError(apiCallError({ statusCode: 429, isRetryable: true, responseHeaders: { "retry-after-ms": "1500", "retry-after": "9" } }), "m", []);
    expect(openai).toMatchObject({ retryable: true, status: 429, retryAfterMs: 1500, message: 'api.example:8443 answered 429: "failed"' });
    expect(toProviderError(apiCallError({ statusCode: 503, isRetryable: true, responseHeaders: { "retry-after": "2" } }), "m", []).retryAfterMs).toBe(2000);
    const body = JSON.stringify({ error: { code: 429, details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7.5s" }] } });
    expect(toProviderError(apiCallError({ statusCode: 429, isRetryable: true, responseBody: body }), "m", []).retryAfterMs).toBe(7500);
    expect(toProviderError(apiCallError({ statusCode: 400, isRetryable: false }), "m", [])).toMatchObject({ retryable: false, status: 400 });
  });

  it("names the host alone (a URL may carry the key), blanks secrets from the message, and never retries a 2xx it could not read", () => {
    const echoed = toProviderError(apiCallError({ statusCode: 401, isRetryable: false, message: "bad key secret-key-123" }), "m", ["secret-key-123"]);
    expect(echoed.message).toBe('api.example:8443 answered 401: "bad key [redacted]"');
    const unreadable = toProviderError(apiCallError({ statusCode: 200, isRetryable: false, message: "Invalid JSON response" }), "m", []);
    expect(unreadable.retryable).toBe(false);
    expect(unreadable.message).toContain("may have been generated and charged anyway");
    const network = toProviderError(apiCallError({ isRetryable: true, message: "Cannot connect to API: other side closed" }), "m", []);
    expect(network).toMatchObject({ retryable: true, message: 'Could not reach api.example:8443: "Cannot connect to API: other side closed"' });
  });

  it("anything else a model throws is not retried: its own refusal as it is, the unexpected named", () => {
    const missingKey = Object.assign(new Error("Google Generative AI API key is missing."), { [Symbol.for("vercel.ai.error")]: true });
    expect(toProviderError(missingKey, "google:x", [])).toMatchObject({ retryable: false, message: '"Google Generative AI API key is missing."' });
    expect(toProviderError(new TypeError("boom"), "google:x", [])).toMatchObject({ retryable: false, message: 'google:x failed unexpectedly: "boom"' });
  });
});
