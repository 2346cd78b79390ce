import { createHash } from "node:crypto";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/index.js";
import { KEY } from "./client.js";

// Google's generateContent with image output, as a plain client sends it (no AI SDK, no imagegen).

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: KEY });
});
beforeEach(() => emulator.reset());
afterAll(() => emulator.close());

const MODEL = "gemini-3-pro-image";

function body(imageConfig: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    contents: [{ role: "user", parts: [{ text: "a lighthouse at dawn" }] }],
    generationConfig: { responseModalities: ["IMAGE"], imageConfig },
    ...extra,
  };
}

function post(value: unknown, { model = MODEL, key = KEY as string | null, query = "" } = {}): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (key !== null) headers["x-goog-api-key"] = key;
  return fetch(`${emulator.url}/v1beta/models/${model}:generateContent${query}`, {
    method: "POST",
    headers,
    body: typeof value === "string" ? value : JSON.stringify(value),
  });
}

/** The image parts of an answer, decoded, with whether each is a thought. */
async function imagesOf(answer: any) {
  const parts = answer.candidates[0].content.parts.filter((part: any) => part.inlineData);
  return Promise.all(
    parts.map(async (part: any) => {
      const metadata = await sharp(Buffer.from(part.inlineData.data, "base64")).metadata();
      return { thought: part.thought === true, mimeType: part.inlineData.mimeType, width: metadata.width, height: metadata.height };
    }),
  );
}

describe("generateContent with image output", () => {
  it("answers the final image after an interim thought image, with usageMetadata", async () => {
    const response = await post(body({ imageSize: "1K" }));
    expect(response.status).toBe(200);
    const answer = await response.json();
    expect(answer).toMatchObject({ candidates: [{ finishReason: "STOP", index: 0, content: { role: "model" } }], modelVersion: MODEL });
    expect(await imagesOf(answer)).toEqual([
      { thought: true, mimeType: "image/png", width: 256, height: 256 },
      { thought: false, mimeType: "image/png", width: 1024, height: 1024 },
    ]);
    expect(answer.usageMetadata).toEqual({
      promptTokenCount: 5,
      candidatesTokenCount: 1120,
      thoughtsTokenCount: 258,
      totalTokenCount: 5 + 1120 + 258,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: 5 }],
      candidatesTokensDetails: [{ modality: "IMAGE", tokenCount: 1120 }],
    });
    expect(emulator.requests).toHaveLength(1);
    expect(emulator.requests[0]!.headers["x-goog-api-key"]).toBe("[redacted]");
  });

  it.each([
    ["1K", "16:9", 1376, 768],
    ["2K", "9:16", 1536, 2752],
    ["1K", "21:9", 1584, 672],
    ["4K", "1:1", 4096, 4096],
  ])("renders imageSize %s at aspectRatio %s as %i×%i", async (imageSize, aspectRatio, width, height) => {
    const answer = await (await post(body({ imageSize, aspectRatio }))).json();
    expect((await imagesOf(answer)).at(-1)).toMatchObject({ width, height });
  });

  it("takes the key as the key query parameter too, and records it redacted", async () => {
    const response = await post(body(), { key: null, query: `?key=${KEY}` });
    expect(response.status).toBe(200);
    expect(emulator.requests[0]!.path).toBe(`/v1beta/models/${MODEL}:generateContent?key=%5Bredacted%5D`);
  });

  it("edits: the input image becomes the answer's background, and is recorded by its sha256", async () => {
    const input = await sharp({ create: { width: 300, height: 200, channels: 3, background: "#ff0000" } }).png().toBuffer();
    const withImage = body({ aspectRatio: "3:2" });
    withImage.contents[0]!.parts.push({ inlineData: { mimeType: "image/png", data: input.toString("base64") } } as never);
    const answer = await (await post(withImage)).json();
    const final = answer.candidates[0].content.parts.at(-1);
    const { data, info } = await sharp(Buffer.from(final.inlineData.data, "base64")).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([1264, 848]);
    // The tinted red of the input, away from the banner.
    expect(data[0]).toBeGreaterThan(180);
    expect(answer.usageMetadata.promptTokensDetails).toEqual([
      { modality: "TEXT", tokenCount: 5 },
      { modality: "IMAGE", tokenCount: 560 },
    ]);
    const recorded = (emulator.requests[0]!.body as any).contents[0].parts[1].inlineData;
    expect(recorded).toEqual({ mimeType: "image/png", size: input.length, sha256: createHash("sha256").update(input).digest("hex") });
  });

  it.each([
    ["no key", body(), { key: null }, 403, "PERMISSION_DENIED", /unregistered callers/],
    ["a wrong key", body(), { key: "another-key" }, 400, "INVALID_ARGUMENT", /API key not valid/],
    ["a model that makes no images", body(), { model: "gemini-2.5-pro" }, 404, "NOT_FOUND", /models\/gemini-2\.5-pro is not found/],
    ["an aspect the model does not make", body({ aspectRatio: "2:1" }), {}, 400, "INVALID_ARGUMENT", /aspectRatio "2:1" is not supported by gemini-3-pro-image; use one of 1:1, 2:3/],
    ["a size the model does not make", body({ imageSize: "8K" }), {}, 400, "INVALID_ARGUMENT", /imageSize "8K" is not supported/],
    ["imageSize for a 1K-only model", body({ imageSize: "2K" }), { model: "gemini-2.5-flash-image" }, 400, "INVALID_ARGUMENT", /imageSize is not supported by gemini-2\.5-flash-image/],
    ["no IMAGE modality", { ...body(), generationConfig: { responseModalities: ["TEXT"] } }, {}, 400, "INVALID_ARGUMENT", /must include "IMAGE"/],
    ["an unknown field", body({}, { prompt: "x" }), {}, 400, "INVALID_ARGUMENT", /Unknown name "prompt": Cannot find field/],
    ["a temperature out of range", { ...body(), generationConfig: { responseModalities: ["IMAGE"], temperature: 3 } }, {}, 400, "INVALID_ARGUMENT", /temperature must be a number from 0\.0 to 2\.0/],
    ["an image that is not base64", { contents: [{ parts: [{ text: "x" }, { inlineData: { mimeType: "image/png", data: "%%%" } }] }], generationConfig: { responseModalities: ["IMAGE"] } }, {}, 400, "INVALID_ARGUMENT", /Base64 decoding failed/],
    ["an input that is not an image", { contents: [{ parts: [{ text: "x" }, { inlineData: { mimeType: "image/png", data: Buffer.from("not a png").toString("base64") } }] }], generationConfig: { responseModalities: ["IMAGE"] } }, {}, 400, "INVALID_ARGUMENT", /Unable to process input image/],
  ])("refuses %s with Google's error shape", async (_, value, options, code, status, message) => {
    const response = await post(value, options);
    expect(response.status).toBe(code);
    const { error } = await response.json();
    expect(error).toMatchObject({ code, status });
    expect(error.message).toMatch(message);
  });
});

describe("generateContent faults", () => {
  it("429 says its wait in a RetryInfo detail, as Google does", async () => {
    emulator.injectFault({ kind: "status", status: 429, retryAfter: "7" });
    const response = await post(body());
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBeNull();
    expect(await response.json()).toEqual({
      error: {
        code: 429,
        message: "Resource has been exhausted (e.g. check quota).",
        status: "RESOURCE_EXHAUSTED",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" }],
      },
    });
    expect((await post(body())).status).toBe(200);
  });

  it("no-image: a 200 that finished on IMAGE_SAFETY without an image", async () => {
    emulator.injectFault({ kind: "no-image" });
    const answer = await (await post(body())).json();
    expect(answer.candidates[0].finishReason).toBe("IMAGE_SAFETY");
    expect(await imagesOf(answer)).toEqual([]);
  });

  it("faults scoped to another API wait for theirs; 1min.ai-only faults never fire here", async () => {
    emulator.injectFault({ kind: "failed-record" });
    emulator.injectFault({ kind: "status", status: 503, api: "openai" });
    emulator.injectFault({ kind: "status", status: 500, api: "google" });
    expect((await post(body())).status).toBe(500);
    expect((await post(body())).status).toBe(200);
  });

  it("malformed-json and reset, like the 1min.ai side", async () => {
    emulator.injectFault({ kind: "malformed-json" });
    const malformed = await post(body());
    expect(malformed.status).toBe(200);
    await expect(malformed.json()).rejects.toThrow();
    emulator.injectFault({ kind: "reset" });
    await expect(post(body())).rejects.toThrow();
    expect(emulator.requests).toHaveLength(2);
  });
});
