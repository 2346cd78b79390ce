import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/index.js";
import { featureBody, generate, KEY, postFeature } from "./client.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
beforeEach(() => emulator.reset());
afterAll(() => emulator.close());

async function download(temporaryUrl: string): Promise<Buffer> {
  const response = await fetch(temporaryUrl);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("image/png");
  return Buffer.from(await response.arrayBuffer());
}

describe("a successful generation", () => {
  it("answers in the documented shape with a temporaryUrl on the emulator", async () => {
    const answer = await generate(emulator.url, { prompt: "A futuristic cityscape", imageSize: "2K" });
    expect(Object.keys(answer)).toEqual(["aiRecord"]);
    const { aiRecord } = answer;
    expect(aiRecord).toMatchObject({
      uuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      userId: expect.any(String),
      teamId: expect.any(String),
      model: "gemini-3-pro-image-preview",
      type: "IMAGE_GENERATOR",
      status: "SUCCESS",
      aiRecordDetail: {
        promptObject: { prompt: "A futuristic cityscape", imageSize: "2K", temperature: 1, topP: 0.95 },
        resultObject: [expect.stringMatching(/^emulator\/images\/.+\.png$/)],
      },
    });
    expect(new Date(aiRecord.createdAt).toISOString()).toBe(aiRecord.createdAt);
    expect(aiRecord.temporaryUrl).toMatch(
      new RegExp(`^${emulator.url}/files/[0-9a-f-]+\\.png\\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=[0-9a-f]+$`),
    );
  });

  it.each([
    ["1K", 1024],
    ["2K", 2048],
    ["4K", 4096],
  ])("renders a %s image of %i² pixels", async (imageSize, pixels) => {
    const { aiRecord } = await generate(emulator.url, { prompt: `size ${imageSize}`, imageSize });
    const bytes = await download(aiRecord.temporaryUrl);
    const metadata = await sharp(bytes).metadata();
    expect({ format: metadata.format, width: metadata.width, height: metadata.height }).toEqual({
      format: "png",
      width: pixels,
      height: pixels,
    });
  });

  it("gives another image each time the same request is made, deterministic by request order", async () => {
    const take = async (url: string, prompt: Record<string, unknown>) => download((await generate(url, prompt)).aiRecord.temporaryUrl);
    const first = await take(emulator.url, { prompt: "a red fox" });
    const again = await take(emulator.url, { prompt: "a red fox" });
    const third = await take(emulator.url, { prompt: "a red fox" });
    const other = await take(emulator.url, { prompt: "a blue fox" });
    const warmer = await take(emulator.url, { prompt: "a red fox", temperature: 1.5 });
    expect(again.equals(first)).toBe(false);
    expect(third.equals(again) || third.equals(first)).toBe(false);
    expect(other.equals(first)).toBe(false);
    expect(warmer.equals(first)).toBe(false);
    // Another emulator gives the same images in the same order: nothing depends on process state.
    const second = await startEmulator();
    try {
      expect((await take(second.url, { prompt: "a red fox" })).equals(first)).toBe(true);
      expect((await take(second.url, { prompt: "a red fox" })).equals(again)).toBe(true);
      // reset() starts the order again.
      second.reset();
      expect((await take(second.url, { prompt: "a red fox" })).equals(first)).toBe(true);
    } finally {
      await second.close();
    }
  });

  it("renders a picture, not a flat colour", async () => {
    const bytes = await download((await generate(emulator.url, { prompt: "a lighthouse at dawn" })).aiRecord.temporaryUrl);
    const { channels } = await sharp(bytes).stats();
    expect(channels.slice(0, 3).some((channel) => channel.stdev > 10)).toBe(true);
  });

  it("gives each generation its own record and URL", async () => {
    const a = (await generate(emulator.url)).aiRecord;
    const b = (await generate(emulator.url)).aiRecord;
    expect(a.uuid).not.toBe(b.uuid);
    expect(a.temporaryUrl).not.toBe(b.temporaryUrl);
  });

  it("refuses a download whose signature was not issued", async () => {
    const { temporaryUrl } = (await generate(emulator.url)).aiRecord;
    const forged = temporaryUrl.replace(/X-Amz-Signature=[0-9a-f]+/, "X-Amz-Signature=0000");
    const response = await fetch(forged);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("<Code>SignatureDoesNotMatch</Code>");
    expect((await fetch(`${emulator.url}/files/unknown.png`)).status).toBe(404);
  });
});

describe("recorded requests", () => {
  it("records generations with the API key redacted, and downloads apart", async () => {
    const before = Date.now();
    const { aiRecord } = await generate(emulator.url, { prompt: "recorded" });
    await download(aiRecord.temporaryUrl);
    expect(emulator.requests).toHaveLength(1);
    const [request] = emulator.requests;
    expect(request).toMatchObject({ method: "POST", path: "/api/features", body: featureBody({ prompt: "recorded" }) });
    expect(request!.headers["api-key"]).toBe("[redacted]");
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(request!.at).toBeGreaterThanOrEqual(before);
    expect(JSON.stringify(emulator.requests)).not.toContain(KEY);
    expect(emulator.downloads).toHaveLength(1);
    expect(emulator.downloads[0]!.path).toBe(new URL(aiRecord.temporaryUrl).pathname + new URL(aiRecord.temporaryUrl).search);
  });

  it("records rejected requests too, with a body that is not JSON kept as text", async () => {
    await postFeature(emulator.url, "{oops", { key: null });
    expect(emulator.requests.map((request) => request.body)).toEqual(["{oops"]);
  });

  it("reset() clears requests, downloads and faults", async () => {
    await download((await generate(emulator.url)).aiRecord.temporaryUrl);
    emulator.injectFault({ kind: "status", status: 500 });
    emulator.reset();
    expect(emulator.requests).toEqual([]);
    expect(emulator.downloads).toEqual([]);
    expect((await postFeature(emulator.url)).status).toBe(200);
  });
});

describe("latency and shutdown", () => {
  it("waits latencyMs before answering", async () => {
    const slow = await startEmulator({ latencyMs: 200 });
    try {
      const started = Date.now();
      expect((await postFeature(slow.url)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    } finally {
      await slow.close();
    }
  });

  it("closes at once even with a hung request open", async () => {
    const hung = await startEmulator({ faults: [{ kind: "hang" }] });
    const pending = postFeature(hung.url).catch((error: unknown) => error);
    while (hung.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await hung.close();
    // The hung request was cut by close(), not answered.
    expect(await pending).toBeInstanceOf(TypeError);
    expect(hung.requests).toHaveLength(1);
  });

  it("refuses a fault with an unknown kind or a missing field", () => {
    expect(() => emulator.injectFault({ kind: "explode" } as never)).toThrow(/Unknown fault kind "explode"/);
    expect(() => emulator.injectFault({ kind: "status" } as never)).toThrow(/needs a number "status"/);
    expect(() => emulator.injectFault({ kind: "hang", times: 0 })).toThrow(/positive integer/);
  });
});
