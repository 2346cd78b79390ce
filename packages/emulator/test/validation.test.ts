import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/index.js";
import { featureBody, KEY, postFeature } from "./client.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator.close());

async function rejection(response: Response): Promise<{ status: number; message: string }> {
  const body = (await response.json()) as { message: string };
  return { status: response.status, message: body.message };
}

describe("POST /api/features validation", () => {
  it("answers 401 without an API-KEY", async () => {
    expect(await rejection(await postFeature(emulator.url, featureBody(), { key: null }))).toEqual({
      status: 401,
      message: "Missing API-KEY header",
    });
    expect((await postFeature(emulator.url, featureBody(), { key: "" })).status).toBe(401);
  });

  it("accepts only the configured key when one is set", async () => {
    const strict = await startEmulator({ apiKey: KEY });
    try {
      expect(await rejection(await postFeature(strict.url, featureBody(), { key: "wrong" }))).toEqual({
        status: 401,
        message: "Invalid API key",
      });
      expect((await postFeature(strict.url)).status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it.each([
    ["a body that is not JSON", "{not json", /not valid JSON/],
    ["a body that is not an object", "[1,2]", /must be a JSON object/],
    ["a wrong type", featureBody({}, { type: "CHAT" }), /type must be "IMAGE_GENERATOR" or "IMAGE_EDITOR" \(got "CHAT"\)/],
    ["a wrong model", featureBody({}, { model: "dall-e-3" }), /model must be "gemini-3-pro-image-preview"/],
    ["no promptObject", featureBody({}, { promptObject: undefined }), /promptObject is required/],
    ["no prompt", featureBody({ prompt: undefined }), /prompt is required/],
    ["an empty prompt", featureBody({ prompt: "   " }), /prompt is required/],
    ["a size of 8K", featureBody({ imageSize: "8K" }), /imageSize must be one of "1K", "2K" or "4K" \(got "8K"\)/],
    ["a lower-case size", featureBody({ imageSize: "1k" }), /imageSize must be one of/],
    ["temperature above 2", featureBody({ temperature: 2.5 }), /temperature must be a number from 0.0 to 2.0/],
    ["temperature below 0", featureBody({ temperature: -0.1 }), /temperature/],
    ["temperature as a string", featureBody({ temperature: "1" }), /temperature/],
    ["temperature null", featureBody({ temperature: null }), /temperature/],
    ["topP above 1", featureBody({ topP: 1.01 }), /topP must be a number from 0.0 to 1.0/],
    ["topP as a string", featureBody({ topP: "0.9" }), /topP/],
  ])("answers 400 for %s", async (_name, body, message) => {
    const { status, message: text } = await rejection(await postFeature(emulator.url, body));
    expect(status).toBe(400);
    expect(text).toMatch(message);
  });

  it("takes the documented defaults when imageSize, temperature and topP are absent", async () => {
    const response = await postFeature(emulator.url, {
      type: "IMAGE_GENERATOR",
      model: "gemini-3-pro-image-preview",
      promptObject: { prompt: "defaults" },
    });
    expect(response.status).toBe(200);
    const { aiRecord } = (await response.json()) as any;
    expect(aiRecord.aiRecordDetail.promptObject).toEqual({ prompt: "defaults", imageSize: "1K", temperature: 1, topP: 0.95 });
  });

  it("accepts the range limits", async () => {
    for (const fields of [{ temperature: 0, topP: 0 }, { temperature: 2, topP: 1 }]) {
      expect((await postFeature(emulator.url, featureBody(fields))).status).toBe(200);
    }
  });

  it("answers 405 for another method and 404 for an unknown path", async () => {
    expect((await fetch(`${emulator.url}/api/features`)).status).toBe(405);
    const response = await fetch(`${emulator.url}/api/nothing`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: "No route for GET /api/nothing" });
  });
});
