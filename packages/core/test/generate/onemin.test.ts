import { inspect } from "node:util";
import { startEmulator, type Emulator, type Fault } from "@imagegen/emulator";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderError, type GenerationRequest } from "../../src/generate/provider.js";
import { createOneminProvider, type OneminProviderOptions } from "../../src/generate/onemin.js";

const KEY = "fake-key-7d1e0c2b9a";
const request: GenerationRequest = {
  model: "gemini-3-pro-image-preview",
  prompt: "a lighthouse at dawn",
  size: "1K",
  temperature: 1,
  topP: 0.95,
  variant: "",
};

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: KEY });
});
beforeEach(() => emulator.reset());
afterAll(() => emulator.close());

function provider(options: Partial<OneminProviderOptions> = {}) {
  return createOneminProvider({ apiKey: KEY, apiUrl: emulator.url, downloadRetryDelayMs: 1, ...options });
}

function generate(options: Partial<OneminProviderOptions> = {}, signal = AbortSignal.timeout(20_000), req = request) {
  return provider(options).generate(req, { signal });
}

/** The ProviderError a generation fails with, checked to carry the API key nowhere. */
async function failure(fault: Fault | undefined, options: Partial<OneminProviderOptions> = {}): Promise<ProviderError> {
  if (fault !== undefined) emulator.injectFault(fault);
  const error = await generate(options).then(
    () => expect.fail("the generation should have failed"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  expect(inspect(error, { depth: 10 })).not.toContain(KEY);
  return error as ProviderError;
}

/** A URL the emulator serves, made with plain fetch so it stays outside the provider. */
async function emulatorUrl(fault?: Fault): Promise<string> {
  if (fault !== undefined) emulator.injectFault(fault);
  const response = await fetch(`${emulator.url}/api/features`, {
    method: "POST",
    headers: { "API-KEY": KEY, "Content-Type": "application/json" },
    body: JSON.stringify({ type: "IMAGE_GENERATOR", model: request.model, promptObject: { prompt: "target", imageSize: "1K" } }),
  });
  return ((await response.json()) as { aiRecord: { temporaryUrl: string } }).aiRecord.temporaryUrl;
}

describe("onemin provider: success", () => {
  it("sends the documented request and returns bytes that decode at 1024²", async () => {
    const image = await generate({}, undefined, { ...request, variant: "b" });
    const { width, height, format } = await sharp(image.bytes).metadata();
    expect({ width, height, format }).toEqual({ width: 1024, height: 1024, format: "png" });
    expect(image.recordId).toMatch(/^[0-9a-f-]{36}$/);

    expect(emulator.requests).toHaveLength(1);
    const [sent] = emulator.requests;
    expect(sent!.path).toBe("/api/features");
    expect(sent!.headers["content-type"]).toBe("application/json");
    expect(sent!.headers["api-key"]).toBe("[redacted]");
    // The variant only changes the key: it is not sent.
    expect(sent!.body).toEqual({
      type: "IMAGE_GENERATOR",
      model: "gemini-3-pro-image-preview",
      promptObject: { prompt: "a lighthouse at dawn", imageSize: "1K", temperature: 1, topP: 0.95 },
    });
    expect(emulator.downloads).toHaveLength(1);
    expect(emulator.downloads[0]!.headers["api-key"]).toBeUndefined();
  });

  it("asks for the request's size", async () => {
    const image = await generate({}, undefined, { ...request, size: "2K" });
    expect((await sharp(image.bytes).metadata()).width).toBe(2048);
  });

  it("accepts temporaryUrl at the top level of the answer", async () => {
    emulator.injectFault({ kind: "top-level-temporary-url" });
    const image = await generate();
    expect((await sharp(image.bytes).metadata()).width).toBe(1024);
  });

  it("takes the API URL from ONEMIN_API_URL when none is given", async () => {
    const saved = process.env["ONEMIN_API_URL"];
    process.env["ONEMIN_API_URL"] = `${emulator.url}/`;
    try {
      const image = await createOneminProvider({ apiKey: KEY }).generate(request, { signal: AbortSignal.timeout(20_000) });
      expect(image.bytes.byteLength).toBeGreaterThan(0);
    } finally {
      if (saved === undefined) delete process.env["ONEMIN_API_URL"];
      else process.env["ONEMIN_API_URL"] = saved;
    }
  });

  it("follows a redirect to the same origin", async () => {
    const target = await emulatorUrl();
    emulator.injectFault({ kind: "redirect-download", location: target });
    expect((await sharp((await generate()).bytes).metadata()).width).toBe(1024);
  });

  it("refuses an empty key and an API URL that is not http(s)", () => {
    expect(() => createOneminProvider({ apiKey: " " })).toThrow(/non-empty apiKey/);
    expect(() => createOneminProvider({ apiKey: KEY, apiUrl: "ftp://example.test" })).toThrow(/must be an http\(s\) URL/);
  });
});

describe("onemin provider: API errors", () => {
  it("429 is retryable and carries Retry-After in seconds", async () => {
    const error = await failure({ kind: "status", status: 429, retryAfter: "1" });
    expect(error).toMatchObject({ retryable: true, status: 429, retryAfterMs: 1000 });
    expect(error.message).toBe(`${new URL(emulator.url).host} answered 429 Too Many Requests: "Too many requests, please slow down"`);
  });

  it("503 is retryable and carries Retry-After as an HTTP date", async () => {
    const error = await failure({ kind: "status", status: 503, retryAfter: new Date(Date.now() + 5000).toUTCString() });
    expect(error).toMatchObject({ retryable: true, status: 503 });
    expect(error.retryAfterMs).toBeGreaterThan(3000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(5000);
  });

  it.each([500, 502, 408])("%i is retryable", async (status) => {
    expect(await failure({ kind: "status", status })).toMatchObject({ retryable: true, status });
  });

  it.each([
    [401, /answered 401 Unauthorized: "Invalid API key"/],
    [402, /answered 402 Payment Required: "Insufficient credits"/],
    [403, /answered 403 Forbidden: "Insufficient credits: please top up your account"/],
  ])("%i is not retryable and quotes the provider", async (status, message) => {
    const error = await failure({ kind: "status", status });
    expect(error).toMatchObject({ retryable: false, status });
    expect(error.message).toMatch(message);
  });

  it("a rejected parameter is a 400 that quotes the provider and is not retried", async () => {
    emulator.reset();
    const error = (await generate({}, undefined, { ...request, temperature: 3 }).catch((e: unknown) => e)) as ProviderError;
    expect(error).toMatchObject({ retryable: false, status: 400 });
    expect(error.message).toMatch(/answered 400 Bad Request: "promptObject\.temperature must be a number from 0\.0 to 2\.0 \(got 3\)"/);
  });

  it("a wrong key is a 401 that never shows the key", async () => {
    const error = await failure(undefined, { apiKey: "fake-wrong-key-0000" });
    expect(error).toMatchObject({ retryable: false, status: 401 });
    expect(error.message).not.toContain("fake-wrong-key-0000");
  });

  it("blanks the key when a server echoes it", async () => {
    const error = await failure({ kind: "status", status: 401, message: `API key ${KEY} is not valid` });
    expect(error.message).toMatch(/"API key \[redacted\] is not valid"/);
  });

  it("trims a long message to about 200 characters", async () => {
    const error = await failure({ kind: "status", status: 500, message: "x".repeat(5000) });
    expect(error.message.length).toBeLessThan(300);
  });

  it("a FAILED record is not retryable and quotes its message", async () => {
    const error = await failure({ kind: "failed-record", message: "Content policy violation" });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/generation [0-9a-f-]{36} ended with status "FAILED": "Content policy violation"/);
  });

  it("an answer without temporaryUrl is not retryable", async () => {
    const error = await failure({ kind: "no-temporary-url" });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/has no temporaryUrl/);
  });

  it("a 200 that is not JSON is not retryable, and says the image may exist", async () => {
    const error = await failure({ kind: "malformed-json" });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(
      /answered 200 with a body that is not JSON \("\{.*"\): the image may have been generated and charged anyway; it is not requested again/,
    );
  });

  it("a 200 answer larger than 1 MiB is not read whole, and is not retryable", async () => {
    const error = await failure({ kind: "status", status: 200, bodyBytes: 1024 ** 3 });
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      `${new URL(emulator.url).host} answered 200 with more than 1048576 bytes, not an API answer: ` +
        "the image may have been generated and charged anyway; it is not requested again (check your 1min.ai history)",
    );
  });

  it("an error body of 1 GiB is read only as far as its message", async () => {
    const error = await failure({ kind: "status", status: 500, message: "Overloaded", bodyBytes: 1024 ** 3 });
    expect(error).toMatchObject({ retryable: true, status: 500 });
    expect(error.message).toBe(`${new URL(emulator.url).host} answered 500 Internal Server Error: "Overloaded"`);
  });

  it("blanks the key in the status text too", async () => {
    const error = await failure({ kind: "status", status: 401, statusText: `Key ${KEY} refused` });
    expect(error.message).toBe(`${new URL(emulator.url).host} answered 401 Key [redacted] refused: "Invalid API key"`);
  });

  it("a connection reset is retryable", async () => {
    const error = await failure({ kind: "reset" });
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^Could not reach 127\.0\.0\.1:\d+: /);
  });

  it("a refused connection is retryable", async () => {
    const gone = await startEmulator();
    await gone.close();
    const error = (await createOneminProvider({ apiKey: KEY, apiUrl: gone.url })
      .generate(request, { signal: AbortSignal.timeout(10_000) })
      .catch((e: unknown) => e)) as ProviderError;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it("a hung request rejects with the caller's abort reason", async () => {
    emulator.injectFault({ kind: "hang" });
    const controller = new AbortController();
    const reason = new Error("build stopped");
    setTimeout(() => controller.abort(reason), 200);
    await expect(generate({}, controller.signal)).rejects.toBe(reason);
  });
});

describe("onemin provider: downloads", () => {
  it("refuses an http: URL on another host without fetching it", async () => {
    const url = (await emulatorUrl()).replace("127.0.0.1", "localhost");
    emulator.reset();
    const error = await failure({ kind: "download-url", url });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/^Refusing to download the image from http:\/\/localhost:\d+: only https: URLs or http:\/\/127\.0\.0\.1:\d+ are allowed$/);
    expect(error.message).not.toContain("X-Amz-Signature");
    expect(emulator.downloads).toHaveLength(0);
  });

  it("allows an https: URL on another host", async () => {
    const error = await failure({ kind: "download-url", url: "https://127.0.0.1:9/image.png?X-Amz-Signature=abc" });
    expect(error.message).toMatch(/^The image download from 127\.0\.0\.1:9 failed.* \(after 3 download attempts\)$/);
  });

  it("refuses a redirect to a host that is not allowed", async () => {
    const error = await failure({ kind: "redirect-download", location: "http://downloads.example.test/image.png?sig=1" });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/Refusing to download the image from http:\/\/downloads\.example\.test:/);
    expect(emulator.downloads).toHaveLength(1);
  });

  it("follows at most 3 redirects", async () => {
    let url = await emulatorUrl();
    for (let i = 0; i < 3; i++) url = await emulatorUrl({ kind: "redirect-download", location: url });
    emulator.injectFault({ kind: "redirect-download", location: url });
    const error = await failure(undefined);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/redirected more than 3 times/);
  });

  it("a download status quotes the storage's message; 403 is not retried, 503 is retried from the same URL", async () => {
    const expired = await failure({ kind: "download-status", status: 403 });
    expect(expired).toMatchObject({ retryable: false, status: 403 });
    expect(expired.message).toMatch(/^The image download from 127\.0\.0\.1:\d+ answered 403 Forbidden: "Request has expired"$/);
    expect(emulator.downloads).toHaveLength(1);
    emulator.reset();
    const unavailable = await failure({ kind: "download-status", status: 503 });
    // Retried three times from the same URL, then final: generating again would pay twice.
    expect(unavailable).toMatchObject({ retryable: false, status: 503 });
    expect(unavailable.message).toMatch(/answered 503 Service Unavailable: "Please reduce your request rate\." \(after 3 download attempts\)$/);
    expect(emulator.requests).toHaveLength(1);
    expect(new Set(emulator.downloads.map((d) => d.path)).size).toBe(1);
    expect(emulator.downloads).toHaveLength(3);
  });

  it("a page that is not an image is refused and not retryable", async () => {
    const error = await failure({ kind: "non-image-download" });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/is not an image \(\d+ bytes starting "<!doctype html>/);
  });

  it("a download cut short of its Content-Length is downloaded again, not generated again", async () => {
    const error = await failure({ kind: "truncated-download" }, { downloadAttempts: 2 });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/The image download from 127\.0\.0\.1:\d+ (failed after \d+ of \d+ bytes|stopped after).* \(after 2 download attempts\)$/);
    expect(emulator.requests).toHaveLength(1);
    expect(emulator.downloads).toHaveLength(2);
  });

  it("a PNG cut short without a Content-Length fails decoding and is downloaded again", async () => {
    const error = await failure({ kind: "truncated-download", contentLength: false });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/The png from 127\.0\.0\.1:\d+ is incomplete or corrupt .*\(after 3 download attempts\)$/);
    expect(emulator.downloads).toHaveLength(3);
  });

  it("a download larger than maxDownloadBytes is refused, announced or streamed", async () => {
    const announced = await failure({ kind: "oversized-download", bytes: 500_000 }, { maxDownloadBytes: 100_000 });
    expect(announced.retryable).toBe(false);
    expect(announced.message).toMatch(/announces 500000 bytes, more than maxDownloadBytes \(100000\)/);
    const streamed = await failure({ kind: "oversized-download", bytes: 500_000, contentLength: false }, { maxDownloadBytes: 100_000 });
    expect(streamed.retryable).toBe(false);
    expect(streamed.message).toMatch(/sent more bytes than maxDownloadBytes \(100000\)/);
  });

  it("a download error body of 1 GiB is read only as far as its message", async () => {
    const error = await failure({ kind: "download-status", status: 403, bodyBytes: 1024 ** 3 });
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(`The image download from ${new URL(emulator.url).host} answered 403 Forbidden: "Request has expired"`);
  });

  it("a download that never finishes times out, each attempt on its own", async () => {
    const error = await failure({ kind: "download-hang" }, { downloadTimeoutMs: 300, downloadAttempts: 2 });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/stalled after \d+ of \d+ bytes: no data for 300 ms \(after 2 download attempts\)$/);
    expect(emulator.downloads).toHaveLength(2);
  });
});
