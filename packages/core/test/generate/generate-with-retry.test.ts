import { inspect } from "node:util";
import { startEmulator, type Emulator } from "@imagegen/emulator";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateWithRetry, type RetryOptions } from "../../src/generate/generate-with-retry.js";
import { ProviderError, RetryError, type GenerationRequest, type Provider } from "../../src/generate/provider.js";
import { createOneminProvider } from "../../src/generate/onemin.js";

const KEY = "fake-key-retry-3c9f1a7e55";
const request: GenerationRequest = {
  model: "gemini-3-pro-image-preview",
  prompt: "a red fox, watercolor",
  size: "1K",
  temperature: 1,
  topP: 0.95,
  variant: "",
};

let emulator: Emulator;
let onemin: Provider;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: KEY });
  onemin = createOneminProvider({ apiKey: KEY, apiUrl: emulator.url, downloadTimeoutMs: 1000 });
});
beforeEach(() => emulator.reset());
afterAll(() => emulator.close());

/** Runs with tiny delays and records each retry. */
async function run(options: RetryOptions = {}, provider: Provider = onemin) {
  const retries: { attempt: number; error: unknown; delayMs: number }[] = [];
  const result = await generateWithRetry(provider, request, {
    minDelayMs: 1,
    maxDelayMs: 5000,
    timeoutMs: 10_000,
    onRetry: (info) => retries.push(info),
    ...options,
  }).then(
    (image) => ({ image, error: undefined }),
    (error: unknown) => ({ image: undefined, error }),
  );
  if (result.error !== undefined) expect(inspect(result.error, { depth: 10 })).not.toContain(KEY);
  return { ...result, retries };
}

async function pixelWidth(bytes: Uint8Array | undefined): Promise<number | undefined> {
  return bytes === undefined ? undefined : (await sharp(bytes).metadata()).width;
}

describe("generateWithRetry", () => {
  it("returns the image of the first attempt", async () => {
    const { image, retries } = await run();
    expect(image?.attempts).toBe(1);
    expect(await pixelWidth(image?.bytes)).toBe(1024);
    expect(image?.recordId).toMatch(/^[0-9a-f-]{36}$/);
    expect(retries).toEqual([]);
  });

  it("waits Retry-After seconds after a 429, then succeeds", async () => {
    emulator.injectFault({ kind: "status", status: 429, retryAfter: "1" });
    const { image, retries } = await run();
    expect(image?.attempts).toBe(2);
    expect(retries.map((r) => r.delayMs)).toEqual([1000]);
    expect((retries[0]!.error as ProviderError).status).toBe(429);
    expect(emulator.requests).toHaveLength(2);
    // The second request came after the wait the API asked for.
    expect(emulator.requests[1]!.at - emulator.requests[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("waits until a Retry-After HTTP date, then succeeds", async () => {
    emulator.injectFault({ kind: "status", status: 429, retryAfter: new Date(Date.now() + 1500).toUTCString() });
    const { image, retries } = await run();
    expect(image?.attempts).toBe(2);
    expect(retries[0]!.delayMs).toBeGreaterThan(0);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(1500);
  });

  it("honours a Retry-After longer than maxDelayMs, which bounds only the backoff", async () => {
    emulator.injectFault({ kind: "status", status: 503, retryAfter: "1" });
    const { image, retries } = await run({ maxDelayMs: 50 });
    expect(image?.attempts).toBe(2);
    expect(retries.map((r) => r.delayMs)).toEqual([1000]);
  });

  it("fails at once, with the wait the API asked for, when Retry-After exceeds maxRetryAfterMs", async () => {
    emulator.injectFault({ kind: "status", status: 429, retryAfter: "120", times: 4 });
    const { error, retries } = await run({ maxDelayMs: 50, maxRetryAfterMs: 60_000 });
    expect(error).toBeInstanceOf(RetryError);
    expect((error as Error).message).toBe(
      `${emulator.url.replace("http://", "")} answered 429 Too Many Requests: "Too many requests, please slow down" ` +
        "(asked to retry after 120 s, longer than maxRetryAfterMs 60 s: try again later; after 1 attempt)",
    );
    expect(retries).toEqual([]);
    expect(emulator.requests).toHaveLength(1);
  });

  it("keeps a Retry-After of a few minutes within the default bound of 10 minutes", async () => {
    emulator.injectFault({ kind: "status", status: 429, retryAfter: "300" });
    const controller = new AbortController();
    const delays: number[] = [];
    const { error } = await run({
      signal: controller.signal,
      onRetry: ({ delayMs }) => {
        delays.push(delayMs);
        controller.abort(new Error("stopped during the wait"));
      },
    });
    expect((error as Error).message).toBe("stopped during the wait");
    expect(delays).toEqual([300_000]);
  });

  it("retries 500s with growing, jittered delays, then succeeds", async () => {
    emulator.injectFault({ kind: "status", status: 500, times: 2 });
    const { image, retries } = await run({ minDelayMs: 10, maxDelayMs: 1000 });
    expect(image?.attempts).toBe(3);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(10);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(20);
    expect(retries[1]!.delayMs).toBeLessThanOrEqual(40);
    expect(emulator.requests).toHaveLength(3);
  });

  it.each([
    [401, "Invalid API key"],
    [400, "Bad request"],
    [402, "Insufficient credits"],
  ])("does not retry a %i", async (status, message) => {
    emulator.injectFault({ kind: "status", status, times: 4 });
    const { error, retries } = await run();
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).not.toBeInstanceOf(RetryError);
    expect((error as ProviderError).message).toContain(message);
    expect(retries).toEqual([]);
    expect(emulator.requests).toHaveLength(1);
  });

  it("does not retry a FAILED record or a page that is not an image", async () => {
    emulator.injectFault({ kind: "failed-record", message: "Content policy violation" });
    const failed = await run();
    expect((failed.error as Error).message).toMatch(/"FAILED": "Content policy violation"/);
    emulator.injectFault({ kind: "non-image-download" });
    const html = await run();
    expect((html.error as Error).message).toMatch(/is not an image/);
    expect(emulator.requests).toHaveLength(2);
  });

  it("throws a RetryError keeping every attempt's error when all fail", async () => {
    emulator.injectFault({ kind: "status", status: 502, times: 5 });
    const { error, retries } = await run({ attempts: 3 });
    expect(error).toBeInstanceOf(RetryError);
    const retryError = error as RetryError;
    expect(retryError.errors).toHaveLength(3);
    expect(retryError.errors.every((e) => e instanceof ProviderError && e.status === 502)).toBe(true);
    expect(retryError.message).toMatch(/answered 502 Bad Gateway: "Bad gateway" \(after 3 attempts\)$/);
    expect(retryError.cause).toBe(retryError.errors[2]);
    expect(retries).toHaveLength(2);
    expect(emulator.requests).toHaveLength(3);
  });

  it("times out a hung request and retries it", async () => {
    emulator.injectFault({ kind: "hang" });
    const { image, retries } = await run({ timeoutMs: 300 });
    expect(image?.attempts).toBe(2);
    expect((retries[0]!.error as Error).message).toBe("onemin did not answer within 300 ms");
    expect(emulator.requests).toHaveLength(2);
  });

  it("retries a connection reset", async () => {
    emulator.injectFault({ kind: "reset" });
    const { image, retries } = await run();
    expect(image?.attempts).toBe(2);
    expect((retries[0]!.error as ProviderError).retryable).toBe(true);
  });

  it("does not generate again after a 200 that is not JSON: the first may have been paid", async () => {
    emulator.injectFault({ kind: "malformed-json" });
    const { error, retries } = await run({ attempts: 4 });
    expect((error as Error).message).toMatch(/not JSON .*: the image may have been generated and charged anyway/);
    expect(retries).toEqual([]);
    expect(emulator.requests).toHaveLength(1);
  });

  it("does not generate again after a 200 whose answer is cut off: the first may have been paid", async () => {
    emulator.injectFault({ kind: "cut-answer", times: 4 });
    const { error, retries } = await run({ attempts: 4 });
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).mayHaveBeenCharged).toBe(true);
    expect((error as Error).message).toMatch(/answered 200 but its answer was cut off .*: the image may have been generated and charged anyway/);
    expect((error as Error).message).not.toContain("Could not reach");
    expect(retries).toEqual([]);
    expect(emulator.requests).toHaveLength(1);
  });

  it("never generates again once the provider reports the attempt paid: a failed download is final", async () => {
    const fast = createOneminProvider({ apiKey: KEY, apiUrl: emulator.url, downloadTimeoutMs: 300, downloadRetryDelayMs: 1 });
    emulator.injectFault({ kind: "truncated-download" });
    const truncated = await run({ attempts: 4 }, fast);
    expect((truncated.error as Error).message).toMatch(/failed after \d+ of \d+ bytes.* \(after 3 download attempts\)$/);
    expect(truncated.retries).toEqual([]);
    expect(emulator.requests).toHaveLength(1);
    expect(emulator.downloads).toHaveLength(3);

    emulator.reset();
    emulator.injectFault({ kind: "download-hang" });
    const hung = await run({ attempts: 4, timeoutMs: 200 }, fast);
    // The attempt's 200 ms timeout stops at the paid answer: the download has its own 300 ms without a byte, three times.
    expect((hung.error as Error).message).toMatch(/stalled after \d+ of \d+ bytes: no data for 300 ms \(after 3 download attempts\)$/);
    expect(emulator.requests).toHaveLength(1);
    expect(emulator.downloads).toHaveLength(3);
  });


  it("rejects at once when the caller aborts during a request, without retrying", async () => {
    emulator.injectFault({ kind: "hang" });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const { error, retries } = await run({ signal: controller.signal });
    expect((error as Error).name).toBe("AbortError");
    expect(retries).toEqual([]);
    expect(emulator.requests).toHaveLength(1);
  });

  it("rejects at once when the caller aborts during a wait", async () => {
    emulator.injectFault({ kind: "status", status: 429, retryAfter: "30" });
    const controller = new AbortController();
    const { error } = await run({
      signal: controller.signal,
      onRetry: () => setTimeout(() => controller.abort(new Error("stopped")), 100),
    });
    expect((error as Error).message).toBe("stopped");
    expect(emulator.requests).toHaveLength(1);
  });

  it("rejects before any request when the signal is already aborted", async () => {
    const { error } = await run({ signal: AbortSignal.abort() });
    expect((error as Error).name).toBe("AbortError");
    expect(emulator.requests).toHaveLength(0);
  });

  it("retries an unexpected error of a custom provider", async () => {
    let calls = 0;
    const flaky: Provider = {
      id: "flaky",
      generate(req, context) {
        calls++;
        if (calls === 1) return Promise.reject(new TypeError("fetch failed"));
        return onemin.generate(req, context);
      },
    };
    const { image, retries } = await run({}, flaky);
    expect(image?.attempts).toBe(2);
    expect(retries[0]!.error).toBeInstanceOf(TypeError);
  });

  it("times out a provider that ignores its signal", async () => {
    let calls = 0;
    const deaf: Provider = {
      id: "deaf",
      generate: () => {
        calls++;
        return new Promise(() => {});
      },
    };
    const { error } = await run({ timeoutMs: 100, attempts: 2 }, deaf);
    expect(error).toBeInstanceOf(RetryError);
    expect((error as Error).message).toBe("deaf did not answer within 100 ms (after 2 attempts)");
    expect(calls).toBe(2);
  });
});
