import { createHash } from "node:crypto";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/index.js";
import { KEY } from "./client.js";

// OpenAI's images API as a plain client calls it (no AI SDK, no imagegen).

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: KEY });
});
beforeEach(() => emulator.reset());
afterAll(() => emulator.close());

function generations(value: unknown, key: string | null = KEY): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (key !== null) headers["Authorization"] = `Bearer ${key}`;
  return fetch(`${emulator.url}/v1/images/generations`, { method: "POST", headers, body: JSON.stringify(value) });
}

function edits(form: FormData): Promise<Response> {
  return fetch(`${emulator.url}/v1/images/edits`, { method: "POST", headers: { Authorization: `Bearer ${KEY}` }, body: form });
}

async function decoded(b64: string) {
  const metadata = await sharp(Buffer.from(b64, "base64")).metadata();
  return { format: metadata.format, width: metadata.width, height: metadata.height, alpha: metadata.hasAlpha };
}

describe("/v1/images/generations", () => {
  it("answers b64_json of the asked size with GPT Image's usage", async () => {
    const response = await generations({ model: "gpt-image-1.5", prompt: "a red fox", size: "1536x1024", quality: "low" });
    expect(response.status).toBe(200);
    const answer = await response.json();
    expect(answer).toMatchObject({ background: "opaque", output_format: "png", quality: "low", size: "1536x1024" });
    expect(answer.data).toHaveLength(1);
    expect(await decoded(answer.data[0].b64_json)).toMatchObject({ format: "png", width: 1536, height: 1024 });
    expect(answer.usage).toEqual({
      input_tokens: 3,
      input_tokens_details: { text_tokens: 3, image_tokens: 0 },
      output_tokens: 400,
      total_tokens: 403,
    });
    expect(emulator.requests[0]!.headers["authorization"]).toBe("[redacted]");
  });

  it("a transparent webp, n images, and DALL·E 3 with its revised prompt and no usage", async () => {
    const transparent = await (await generations({ model: "gpt-image-1", prompt: "a fox", n: 2, background: "transparent", output_format: "webp" })).json();
    expect(transparent.data).toHaveLength(2);
    expect(await decoded(transparent.data[1].b64_json)).toMatchObject({ format: "webp", width: 1024, height: 1024, alpha: true });
    const dalle = await (await generations({ model: "dall-e-3", prompt: "a fox", size: "1792x1024", response_format: "b64_json" })).json();
    expect(dalle.usage).toBeUndefined();
    expect(dalle.data[0].revised_prompt).toBe("a fox");
    expect(await decoded(dalle.data[0].b64_json)).toMatchObject({ width: 1792, height: 1024 });
  });

  it.each([
    ["no key", { model: "gpt-image-1.5", prompt: "x" }, null, 401, null, /didn't provide an API key/],
    ["a wrong key", { model: "gpt-image-1.5", prompt: "x" }, "sk-other", 401, null, /Incorrect API key provided/],
    ["a size the model does not make", { model: "gpt-image-1.5", prompt: "x", size: "2048x2048" }, KEY, 400, "size", /Supported values are: '1024x1024', '1536x1024', '1024x1536', 'auto'/],
    ["an unknown parameter", { model: "gpt-image-1.5", prompt: "x", seed: 3 }, KEY, 400, "seed", /Unknown parameter: 'seed'/],
    ["response_format on GPT Image", { model: "gpt-image-1.5", prompt: "x", response_format: "url" }, KEY, 400, "response_format", /always answers b64_json/],
    ["no prompt", { model: "gpt-image-1.5" }, KEY, 400, "prompt", /Missing required parameter: 'prompt'/],
    ["an unknown model", { model: "gpt-image-9", prompt: "x" }, KEY, 400, "model", /Supported models/],
    ["a transparent jpeg", { model: "gpt-image-1.5", prompt: "x", background: "transparent", output_format: "jpeg" }, KEY, 400, "background", /not supported for the jpeg/],
    ["n > 1 on DALL·E 3", { model: "dall-e-3", prompt: "x", n: 2, response_format: "b64_json" }, KEY, 400, "n", /from 1 to 1 images/],
  ])("refuses %s with OpenAI's error shape", async (_, value, key, status, param, message) => {
    const response = await generations(value, key);
    expect(response.status).toBe(status);
    const { error } = await response.json();
    expect(error).toMatchObject({ type: "invalid_request_error", param });
    expect(error.message).toMatch(message);
  });
});

describe("/v1/images/edits", () => {
  const red = () => sharp({ create: { width: 200, height: 200, channels: 3, background: "#ff0000" } }).png().toBuffer();

  it("edits the images sent as image[], and records each by its sha256", async () => {
    const input = await red();
    const form = new FormData();
    form.append("model", "gpt-image-1.5");
    form.append("prompt", "make it a poster");
    form.append("image[]", new Blob([input], { type: "image/png" }), "a.png");
    form.append("image[]", new Blob([input], { type: "image/png" }), "b.png");
    const answer = await (await edits(form)).json();
    const { data } = await sharp(Buffer.from(answer.data[0].b64_json, "base64")).raw().toBuffer({ resolveWithObject: true });
    expect(data[0]).toBeGreaterThan(180);
    expect(answer.usage.input_tokens_details.image_tokens).toBe(2 * 388);
    const sha256 = createHash("sha256").update(input).digest("hex");
    expect((emulator.requests[0]!.body as any).image).toEqual([
      { name: "a.png", type: "image/png", size: input.length, sha256 },
      { name: "b.png", type: "image/png", size: input.length, sha256 },
    ]);
  });

  it("refuses an edit without an image, and a model that edits nothing", async () => {
    const form = new FormData();
    form.append("model", "gpt-image-1.5");
    form.append("prompt", "x");
    expect((await (await edits(form)).json()).error.message).toBe("Missing required parameter: 'image'.");
    const dalle = new FormData();
    dalle.append("model", "dall-e-3");
    dalle.append("prompt", "x");
    dalle.append("image", new Blob([await red()], { type: "image/png" }), "a.png");
    expect((await (await edits(dalle)).json()).error.message).toBe("dall-e-3 does not support image edits.");
  });
});

describe("images API faults", () => {
  it("429 with Retry-After as a header, in OpenAI's error shape", async () => {
    emulator.injectFault({ kind: "status", status: 429, retryAfter: "2", api: "openai" });
    const response = await generations({ model: "gpt-image-1.5", prompt: "x" });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("2");
    expect((await response.json()).error).toEqual({
      message: "Rate limit reached for requests. Please try again later.",
      type: "requests",
      param: null,
      code: "rate_limit_exceeded",
    });
  });

  it("no-image: a 200 with an empty data list; hang: never answers", async () => {
    emulator.injectFault({ kind: "no-image" });
    expect((await (await generations({ model: "gpt-image-1.5", prompt: "x" })).json()).data).toEqual([]);
    emulator.injectFault({ kind: "hang" });
    const error = await fetch(`${emulator.url}/v1/images/generations`, {
      method: "POST",
      headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ model: "gpt-image-1.5", prompt: "x" }),
      signal: AbortSignal.timeout(300),
    }).catch((caught: unknown) => caught);
    expect((error as Error).name).toBe("TimeoutError");
    expect(emulator.requests).toHaveLength(2);
  });
});
