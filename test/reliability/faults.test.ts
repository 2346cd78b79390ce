import { existsSync } from "node:fs";
import path from "node:path";
import { inspect } from "node:util";
import { type Emulator, type Fault, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY } from "../support/fixture-project.js";
import { startFlakyRelay } from "./support/flaky-relay.js";
import { FAST_RETRIES, FAULT_ID, FAULT_PROMPT, importing, reliabilityProject, storeState, viteBuild } from "./support/project.js";

// Every fault of SPEC §1 through a real Vite build against the emulator over HTTP: how many
// requests it costs, what the user reads, and that nothing is left in the store or the lock.

const PROMPT = FAULT_PROMPT;
const ID = FAULT_ID;
const FAST = FAST_RETRIES;

let emulator: Emulator;
let host: string;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: FAKE_API_KEY });
  host = new URL(emulator.url).host;
});
afterAll(() => emulator?.close());

async function buildWithFaults(faults: Fault[], options: Record<string, unknown> = {}, id = ID) {
  const root = await reliabilityProject(importing(id));
  emulator.reset();
  for (const fault of faults) emulator.injectFault(fault);
  const outcome = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, ...FAST, ...options });
  const prefix = `Could not generate "${PROMPT}" (${root}/src/main.js (import "${id}")) with onemin: `;
  return { root, ...outcome, prefix, requests: emulator.requests.length, downloads: emulator.downloads.length };
}

/** A failed build: one line, no stack frame of ours, no key, nothing stored. */
async function expectCleanFailure(result: Awaited<ReturnType<typeof buildWithFaults>>, secret = FAKE_API_KEY) {
  expect(result.error).toBeDefined();
  expect(result.message).not.toContain("\n");
  expect(result.error!.errors?.[0]?.stack).toBe(`Error: ${result.message}`);
  expect(inspect(result.error, { depth: 10 })).not.toContain(secret);
  expect(result.log.join("\n")).not.toContain(secret);
  expect(await storeState(result.root)).toEqual({ store: [], lockfile: false });
  // Not even an empty store folder.
  expect(existsSync(path.join(result.root, ".imagegen"))).toBe(false);
}

describe("API faults through a Vite build", () => {
  it("429 with Retry-After in seconds: waits that long, retries once, and the build succeeds", async () => {
    const result = await buildWithFaults([{ kind: "status", status: 429, retryAfter: "1" }]);
    expect(result.error).toBeUndefined();
    expect(result.requests).toBe(2);
    expect(emulator.requests[1]!.at - emulator.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect((await storeState(result.root)).store).toHaveLength(2);
  });

  it("429 with Retry-After as an HTTP date: waits until then, retries once, and the build succeeds", async () => {
    const result = await buildWithFaults([{ kind: "status", status: 429, retryAfter: new Date(Date.now() + 2000).toUTCString() }]);
    expect(result.error).toBeUndefined();
    expect(result.requests).toBe(2);
    // An HTTP date has whole seconds: the wait is between one and two of them.
    expect(emulator.requests[1]!.at - emulator.requests[0]!.at).toBeGreaterThanOrEqual(900);
  });

  it("429 that persists: three attempts, then the provider's message", async () => {
    const result = await buildWithFaults([{ kind: "status", status: 429, retryAfter: "0", times: 3 }]);
    expect(result.requests).toBe(3);
    expect(result.message).toBe(`${result.prefix}${host} answered 429 Too Many Requests: "Too many requests, please slow down" (after 3 attempts)`);
    await expectCleanFailure(result);
  });

  it.each([
    [500, "Internal Server Error", "Internal server error"],
    [502, "Bad Gateway", "Bad gateway"],
    [503, "Service Unavailable", "Service temporarily unavailable"],
  ])("%i: retried, three attempts, then the provider's message", async (status, statusText, said) => {
    const result = await buildWithFaults([{ kind: "status", status, times: 3 }]);
    expect(result.requests).toBe(3);
    expect(result.message).toBe(`${result.prefix}${host} answered ${status} ${statusText}: "${said}" (after 3 attempts)`);
    await expectCleanFailure(result);
  });

  it("a 5xx that passes: the second attempt succeeds and is stored once", async () => {
    const result = await buildWithFaults([{ kind: "status", status: 503 }]);
    expect(result.error).toBeUndefined();
    expect(result.requests).toBe(2);
    expect(result.downloads).toBe(1);
  });

  it("a connection reset: retried, three attempts", async () => {
    const result = await buildWithFaults([{ kind: "reset", times: 3 }]);
    expect(result.requests).toBe(3);
    expect(result.message).toMatch(new RegExp(`^${escape(result.prefix)}Could not reach ${escape(host)}: socket hang up \\(ECONNRESET\\) \\(after 3 attempts\\)$`));
    await expectCleanFailure(result);
  });

  it("a hung request: each attempt times out after timeoutMs, three attempts", async () => {
    const result = await buildWithFaults([{ kind: "hang", times: 3 }], { timeoutMs: 300 });
    expect(result.requests).toBe(3);
    expect(result.message).toBe(`${result.prefix}onemin did not answer within 300 ms (after 3 attempts)`);
    await expectCleanFailure(result);
  });

  it("429 with a Retry-After longer than maxRetryAfterMs: fails at once, saying how long the API asked to wait", async () => {
    const result = await buildWithFaults([{ kind: "status", status: 429, retryAfter: "3600", times: 3 }]);
    expect(result.requests).toBe(1);
    expect(result.message).toBe(
      `${result.prefix}${host} answered 429 Too Many Requests: "Too many requests, please slow down" ` +
        "(asked to retry after 60 min, longer than maxRetryAfterMs 10 min: try again later; after 1 attempt)",
    );
    await expectCleanFailure(result);
  });

  it("malformed JSON in a 200: not generated again, since the first may have been paid", async () => {
    const result = await buildWithFaults([{ kind: "malformed-json", times: 3 }]);
    expect(result.requests).toBe(1);
    expect(result.message).toMatch(
      new RegExp(
        `^${escape(result.prefix)}${escape(host)} answered 200 with a body that is not JSON \\("\\{\\\\"aiRecord\\\\".*"\\): ` +
          "the image may have been generated and charged anyway; it is not requested again \\(check your 1min.ai history\\)$",
      ),
    );
    await expectCleanFailure(result);
  });

  it("a 200 whose answer is cut off: not generated again, since the first may have been paid", async () => {
    const result = await buildWithFaults([{ kind: "cut-answer", times: 3 }]);
    expect(result.requests).toBe(1);
    expect(result.message).toMatch(
      new RegExp(`^${escape(result.prefix)}${escape(host)} answered 200 but its answer was cut off \\(.*\\): the image may have been generated and charged anyway`),
    );
    await expectCleanFailure(result);
  });

  it("an error body of 1 GiB: read only as far as its message, retried, three attempts", async () => {
    const result = await buildWithFaults([{ kind: "status", status: 503, message: "Overloaded", bodyBytes: 1024 ** 3, times: 3 }]);
    expect(result.requests).toBe(3);
    expect(result.message).toBe(`${result.prefix}${host} answered 503 Service Unavailable: "Overloaded" (after 3 attempts)`);
    await expectCleanFailure(result);
  });

  it("a 200 whose record is FAILED: not retried, quotes the record's message", async () => {
    const result = await buildWithFaults([{ kind: "failed-record", message: "Content policy violation" }]);
    expect(result.requests).toBe(1);
    expect(result.message).toMatch(
      new RegExp(`^${escape(result.prefix)}${escape(host)}: generation [0-9a-f-]{36} ended with status "FAILED": "Content policy violation"$`),
    );
    await expectCleanFailure(result);
  });

  it("a 200 without temporaryUrl: not retried", async () => {
    const result = await buildWithFaults([{ kind: "no-temporary-url" }]);
    expect(result.requests).toBe(1);
    expect(result.message).toMatch(
      new RegExp(`^${escape(result.prefix)}${escape(host)}: generation [0-9a-f-]{36} succeeded but its answer has no temporaryUrl to download$`),
    );
    await expectCleanFailure(result);
  });

  it("temporaryUrl at the top level of the answer is accepted", async () => {
    const result = await buildWithFaults([{ kind: "top-level-temporary-url" }]);
    expect(result.error).toBeUndefined();
    expect(result.requests).toBe(1);
  });

  it("401, a bad key: not retried, and the key is nowhere", async () => {
    const wrongKey = "fake-wrong-key-4b8e2a90-do-not-print";
    const result = await buildWithFaults([], { apiKey: wrongKey });
    expect(result.requests).toBe(1);
    expect(result.message).toBe(`${result.prefix}${host} answered 401 Unauthorized: "Invalid API key"`);
    await expectCleanFailure(result, wrongKey);
    expect(JSON.stringify(emulator.requests)).not.toContain(wrongKey);
  });

  it("400, a parameter the API refuses: not retried, quotes the API", async () => {
    const id = `gen:${PROMPT}?w=64&format=webp&model=gemini-2-flash`;
    const result = await buildWithFaults([], {}, id);
    expect(result.requests).toBe(1);
    expect(result.message).toBe(
      `${result.prefix}${host} answered 400 Bad Request: "model must be \\"gemini-3-pro-image-preview\\" (got \\"gemini-2-flash\\")"`,
    );
    await expectCleanFailure(result);
  });

  it.each([
    [402, "Payment Required", "Insufficient credits"],
    [403, "Forbidden", "Insufficient credits: please top up your account"],
  ])("exhausted credits (%i): not retried, quotes the provider", async (status, statusText, said) => {
    const result = await buildWithFaults([{ kind: "status", status, times: 3 }]);
    expect(result.requests).toBe(1);
    expect(result.message).toBe(`${result.prefix}${host} answered ${status} ${statusText}: "${said}"`);
    await expectCleanFailure(result);
  });
});

describe("download faults through a Vite build: never a second paid generation", () => {
  it("403 on the download (expired URL): not retried", async () => {
    const result = await buildWithFaults([{ kind: "download-status", status: 403 }]);
    expect([result.requests, result.downloads]).toEqual([1, 1]);
    expect(result.message).toBe(`${result.prefix}The image download from ${host} answered 403 Forbidden: "Request has expired"`);
    await expectCleanFailure(result);
  });

  it("503 on the download: downloaded again from the same URL, three times, generated once", async () => {
    const result = await buildWithFaults([{ kind: "download-status", status: 503 }]);
    expect([result.requests, result.downloads]).toEqual([1, 3]);
    expect(new Set(emulator.downloads.map((d) => d.path)).size).toBe(1);
    expect(result.message).toBe(
      `${result.prefix}The image download from ${host} answered 503 Service Unavailable: "Please reduce your request rate." (after 3 download attempts)`,
    );
    await expectCleanFailure(result);
  });

  it("a truncated image: downloaded again three times, generated once", async () => {
    const result = await buildWithFaults([{ kind: "truncated-download" }]);
    expect([result.requests, result.downloads]).toEqual([1, 3]);
    expect(result.message).toMatch(
      new RegExp(`^${escape(result.prefix)}The image download from ${escape(host)} failed after \\d+ of \\d+ bytes: .* \\(after 3 download attempts\\)$`),
    );
    await expectCleanFailure(result);
  });

  it("a truncated image without Content-Length: decoding catches it, downloaded again three times", async () => {
    const result = await buildWithFaults([{ kind: "truncated-download", contentLength: false }]);
    expect([result.requests, result.downloads]).toEqual([1, 3]);
    expect(result.message).toMatch(
      new RegExp(`^${escape(result.prefix)}The png from ${escape(host)} is incomplete or corrupt \\(\\d+ bytes: .*\\) \\(after 3 download attempts\\)$`),
    );
    await expectCleanFailure(result);
  });

  it("a flaky download that passes on the second try: one generation, stored", async () => {
    const relay = await startFlakyRelay(emulator.url, 1);
    try {
      const result = await buildWithFaults([], { apiUrl: relay.url });
      expect(result.error).toBeUndefined();
      expect(result.requests).toBe(1);
      expect(relay.downloads).toBe(2);
      expect((await storeState(result.root)).store).toHaveLength(2);
    } finally {
      await relay.close();
    }
  });

  it("a body that is not an image: not retried", async () => {
    const result = await buildWithFaults([{ kind: "non-image-download" }]);
    expect([result.requests, result.downloads]).toEqual([1, 1]);
    expect(result.message).toBe(
      `${result.prefix}The download from ${host} is not an image (104 bytes starting "<!doctype html><html><head><title>Access")`,
    );
    await expectCleanFailure(result);
  });

  it("an oversized body: refused from its Content-Length, or as it streams, not retried", async () => {
    const announced = await buildWithFaults([{ kind: "oversized-download", bytes: 3_000_000 }], { maxDownloadBytes: 1_000_000 });
    expect([announced.requests, announced.downloads]).toEqual([1, 1]);
    expect(announced.message).toBe(
      `${announced.prefix}The image download from ${host} announces 3000000 bytes, more than maxDownloadBytes (1000000)`,
    );
    await expectCleanFailure(announced);

    const streamed = await buildWithFaults([{ kind: "oversized-download", bytes: 3_000_000, contentLength: false }], { maxDownloadBytes: 1_000_000 });
    expect([streamed.requests, streamed.downloads]).toEqual([1, 1]);
    expect(streamed.message).toBe(`${streamed.prefix}The image download from ${host} sent more bytes than maxDownloadBytes (1000000)`);
    await expectCleanFailure(streamed);
  });

  it("a redirect to a host the download rule refuses: not followed, not retried", async () => {
    const result = await buildWithFaults([{ kind: "redirect-download", location: "http://downloads.example.test/image.png?sig=1" }]);
    expect([result.requests, result.downloads]).toEqual([1, 1]);
    expect(result.message).toBe(
      `${result.prefix}Refusing to download the image from http://downloads.example.test: only https: URLs or ${emulator.url} are allowed`,
    );
    await expectCleanFailure(result);
  });

  it("a temporaryUrl on a plain-http host that is not the API: never fetched", async () => {
    const result = await buildWithFaults([{ kind: "download-url", url: "http://169.254.169.254/latest/meta-data" }]);
    expect([result.requests, result.downloads]).toEqual([1, 0]);
    expect(result.message).toBe(
      `${result.prefix}Refusing to download the image from http://169.254.169.254: only https: URLs or ${emulator.url} are allowed`,
    );
    await expectCleanFailure(result);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
