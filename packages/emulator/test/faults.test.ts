import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/index.js";
import { generate, postFeature } from "./client.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
beforeEach(() => emulator.reset());
afterAll(() => emulator.close());

describe("generation faults", () => {
  it("status: answers the status with a message and Retry-After, once by default", async () => {
    emulator.injectFault({ kind: "status", status: 429, retryAfter: "2" });
    const limited = await postFeature(emulator.url);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    expect(await limited.json()).toEqual({ message: "Too many requests, please slow down" });
    expect((await postFeature(emulator.url)).status).toBe(200);
  });

  it("status: keeps a custom message and an HTTP-date Retry-After", async () => {
    const date = new Date(Date.now() + 60_000).toUTCString();
    emulator.injectFault({ kind: "status", status: 503, retryAfter: date, message: "Overloaded" });
    const response = await postFeature(emulator.url);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe(date);
    expect(await response.json()).toEqual({ message: "Overloaded" });
  });

  it("status: applies `times` times, in order with other faults", async () => {
    emulator.injectFault({ kind: "status", status: 500, times: 2 });
    emulator.injectFault({ kind: "status", status: 402 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await postFeature(emulator.url)).status);
    expect(statuses).toEqual([500, 500, 402, 200]);
  });

  it("match: applies only to prompts containing the text", async () => {
    emulator.injectFault({ kind: "status", status: 403, match: "fox" });
    expect((await postFeature(emulator.url)).status).toBe(200);
    const credits = await postFeature(emulator.url, {
      type: "IMAGE_GENERATOR",
      model: "gemini-3-pro-image-preview",
      promptObject: { prompt: "a red fox", imageSize: "1K" },
    });
    expect(credits.status).toBe(403);
    expect(await credits.json()).toEqual({ message: "Insufficient credits: please top up your account" });
  });

  it("an invalid request consumes no fault", async () => {
    emulator.injectFault({ kind: "status", status: 500 });
    expect((await postFeature(emulator.url, "{bad")).status).toBe(400);
    expect((await postFeature(emulator.url)).status).toBe(500);
  });

  it("hang: never answers", async () => {
    emulator.injectFault({ kind: "hang" });
    const error = await postFeature(emulator.url, undefined, { signal: AbortSignal.timeout(300) }).catch((e: unknown) => e);
    expect((error as Error).name).toBe("TimeoutError");
    expect(emulator.requests).toHaveLength(1);
  });

  it("reset: drops the connection", async () => {
    emulator.injectFault({ kind: "reset" });
    const error = await postFeature(emulator.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((await postFeature(emulator.url)).status).toBe(200);
  });

  it("malformed-json: answers 200 with a body that is not JSON", async () => {
    emulator.injectFault({ kind: "malformed-json" });
    const response = await postFeature(emulator.url);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(() => JSON.parse(text)).toThrow();
  });

  it("cut-answer: answers 200, announces the whole answer, sends half and cuts the connection", async () => {
    emulator.injectFault({ kind: "cut-answer" });
    const response = await postFeature(emulator.url);
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    expect(emulator.requests).toHaveLength(1);
  });

  it("failed-record: answers a FAILED record with its message and no image", async () => {
    emulator.injectFault({ kind: "failed-record", message: "Content policy violation" });
    const { aiRecord, temporaryUrl } = await generate(emulator.url);
    expect(aiRecord).toMatchObject({ status: "FAILED", errorMessage: "Content policy violation" });
    expect(aiRecord.temporaryUrl).toBeUndefined();
    expect(temporaryUrl).toBeUndefined();
    expect(aiRecord.aiRecordDetail.resultObject).toEqual([]);
  });

  it("no-temporary-url: answers SUCCESS with no URL anywhere", async () => {
    emulator.injectFault({ kind: "no-temporary-url" });
    const answer = await generate(emulator.url);
    expect(answer.aiRecord.status).toBe("SUCCESS");
    expect(JSON.stringify(answer)).not.toContain("temporaryUrl");
  });

  it("top-level-temporary-url: moves the URL out of aiRecord", async () => {
    emulator.injectFault({ kind: "top-level-temporary-url" });
    const answer = await generate(emulator.url);
    expect(answer.aiRecord.temporaryUrl).toBeUndefined();
    const response = await fetch(answer.temporaryUrl);
    expect(response.status).toBe(200);
    expect((await sharp(Buffer.from(await response.arrayBuffer())).metadata()).width).toBe(1024);
  });
});

describe("download faults apply to that generation's download only", () => {
  async function faultyUrl(fault: Parameters<Emulator["injectFault"]>[0]): Promise<string> {
    emulator.injectFault(fault);
    return (await generate(emulator.url, { prompt: `download ${fault.kind}` })).aiRecord.temporaryUrl;
  }

  it("download-status: answers the status in S3's XML", async () => {
    const url = await faultyUrl({ kind: "download-status", status: 403 });
    const response = await fetch(url);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("<Message>Request has expired</Message>");
    // The next generation downloads normally.
    const next = await fetch((await generate(emulator.url)).aiRecord.temporaryUrl);
    expect(next.status).toBe(200);
    await next.arrayBuffer();
  });

  it("truncated-download: announces the full length, sends half and ends", async () => {
    const url = await faultyUrl({ kind: "truncated-download" });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const length = Number(response.headers.get("content-length"));
    expect(length).toBeGreaterThan(1000);
    await expect(response.arrayBuffer()).rejects.toThrow();
    expect(emulator.downloads).toHaveLength(1);
  });

  it("truncated-download without contentLength: ends cleanly with half a PNG that does not decode", async () => {
    const url = await faultyUrl({ kind: "truncated-download", contentLength: false });
    const response = await fetch(url);
    expect(response.headers.get("content-length")).toBeNull();
    const bytes = Buffer.from(await response.arrayBuffer());
    expect((await sharp(bytes).metadata()).format).toBe("png");
    await expect(sharp(bytes).stats()).rejects.toThrow();
  });

  it("non-image-download: answers an HTML page with 200", async () => {
    const url = await faultyUrl({ kind: "non-image-download" });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    await expect(sharp(Buffer.from(await response.arrayBuffer())).metadata()).rejects.toThrow();
  });

  it("oversized-download: streams exactly the given number of bytes, with or without a length", async () => {
    const announced = await fetch(await faultyUrl({ kind: "oversized-download", bytes: 300_000 }));
    expect(announced.headers.get("content-length")).toBe("300000");
    expect((await announced.arrayBuffer()).byteLength).toBe(300_000);
    const streamed = await fetch(await faultyUrl({ kind: "oversized-download", bytes: 200_001, contentLength: false }));
    expect(streamed.headers.get("content-length")).toBeNull();
    expect((await streamed.arrayBuffer()).byteLength).toBe(200_001);
  });

  it("download-hang: sends headers and never finishes the body", async () => {
    const url = await faultyUrl({ kind: "download-hang" });
    const response = await fetch(url, { signal: AbortSignal.timeout(400) });
    expect(response.status).toBe(200);
    const error = await response.arrayBuffer().catch((e: unknown) => e);
    expect((error as Error).name).toBe("TimeoutError");
  });

  it("download-url: points temporaryUrl at the given URL", async () => {
    const url = await faultyUrl({ kind: "download-url", url: "http://elsewhere.invalid/image.png?sig=1" });
    expect(url).toBe("http://elsewhere.invalid/image.png?sig=1");
  });

  it("redirect-download: answers 302 to the location", async () => {
    const target = (await generate(emulator.url, { prompt: "target" })).aiRecord.temporaryUrl;
    const url = await faultyUrl({ kind: "redirect-download", location: target });
    const response = await fetch(url, { redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe(target);
    const followed = await fetch(url);
    expect(followed.status).toBe(200);
    expect((await sharp(Buffer.from(await followed.arrayBuffer())).metadata()).width).toBe(1024);
  });

  it("a download fault applies to every download of that URL, and not to the next generation", async () => {
    const url = await faultyUrl({ kind: "download-status", status: 500 });
    expect((await fetch(url)).status).toBe(500);
    expect((await fetch(url)).status).toBe(500);
    const clean = await fetch((await generate(emulator.url, { prompt: "download download-status" })).aiRecord.temporaryUrl);
    expect(clean.status).toBe(200);
    await clean.arrayBuffer();
  });
});
