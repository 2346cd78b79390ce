import { inspect } from "node:util";
import { type Emulator, type Fault, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AI_SDK, type AiSdkApi, aiSdkModel } from "../support/ai-sdk.js";
import { FAKE_GOOGLE_API_KEY, FAKE_OPENAI_API_KEY } from "../support/fixture-project.js";
import { FAST_RETRIES, FAULT_ID, FAULT_PROMPT, importing, reliabilityProject, storeState, viteBuild } from "./support/project.js";

// The fault table of the README for an AI SDK model: the real @ai-sdk/google and @ai-sdk/openai
// packages in a real Vite build, the emulator's Google and OpenAI APIs failing as asked. Their
// doGenerate never retries, so every request the emulator counts is one of imagegen's attempts.

let emulator: Emulator;
let host: string;
beforeAll(async () => {
  emulator = await startEmulator({ googleApiKey: FAKE_GOOGLE_API_KEY, openaiApiKey: FAKE_OPENAI_API_KEY });
  host = new URL(emulator.url).host;
});
afterAll(() => emulator?.close());

async function buildWithFaults(api: AiSdkApi, faults: Fault[], options: Record<string, unknown> = {}) {
  const root = await reliabilityProject(importing(FAULT_ID));
  emulator.reset();
  for (const fault of faults) emulator.injectFault({ ...fault, api });
  const outcome = await viteBuild(root, { root, provider: aiSdkModel(api, emulator.url), ...FAST_RETRIES, ...options });
  const prefix = `Could not generate "${FAULT_PROMPT}" (${root}/src/main.js (import "${FAULT_ID}")) with ${api}:${AI_SDK[api].modelId}: `;
  return { root, ...outcome, prefix, requests: emulator.requests.length };
}

/** A failed build: one line, no key, nothing stored. */
async function expectCleanFailure(result: Awaited<ReturnType<typeof buildWithFaults>>) {
  expect(result.error).toBeDefined();
  expect(result.message).not.toContain("\n");
  for (const key of [FAKE_GOOGLE_API_KEY, FAKE_OPENAI_API_KEY]) {
    expect(inspect(result.error, { depth: 10 })).not.toContain(key);
    expect(result.log.join("\n")).not.toContain(key);
  }
  expect(await storeState(result.root)).toEqual({ store: [], lockfile: false });
}

/** What each API's emulator says for a status. */
const SAID = {
  google: { 429: "Resource has been exhausted (e.g. check quota).", 500: "An internal error has occurred. Please retry.", 503: "The model is overloaded. Please try again later." },
  openai: {
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later.",
  },
} as const;

describe.each(["google", "openai"] as const)("%s API faults through a Vite build", (api) => {
  it("429 with a wait (Google's RetryInfo, OpenAI's Retry-After): waits that long, retries once, and the build succeeds", async () => {
    const result = await buildWithFaults(api, [{ kind: "status", status: 429, retryAfter: "1" }]);
    expect(result.error, result.message).toBeUndefined();
    expect(result.requests).toBe(2);
    expect(emulator.requests[1]!.at - emulator.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect((await storeState(result.root)).store).toHaveLength(2);
  });

  it("429 asking for longer than maxRetryAfterMs: fails at once, saying how long", async () => {
    const result = await buildWithFaults(api, [{ kind: "status", status: 429, retryAfter: "3600" }]);
    expect(result.requests).toBe(1);
    expect(result.message).toBe(
      `${result.prefix}${host} answered 429: "${SAID[api][429]}" (asked to retry after 60 min, longer than maxRetryAfterMs 10 min: try again later; after 1 attempt)`,
    );
    await expectCleanFailure(result);
  });

  it.each([500, 503] as const)("%i that persists: three attempts, then the API's message", async (status) => {
    const result = await buildWithFaults(api, [{ kind: "status", status, times: 3 }]);
    expect(result.requests).toBe(3);
    expect(result.message).toBe(`${result.prefix}${host} answered ${status}: "${SAID[api][status]}" (after 3 attempts)`);
    await expectCleanFailure(result);
  });

  it.each([
    ["a 503 once", { kind: "status", status: 503 }],
    ["a hung connection (timeoutMs)", { kind: "hang" }],
    ["a connection reset", { kind: "reset" }],
  ] as const)("%s: retried, and the build succeeds on the second request", async (_, fault) => {
    const result = await buildWithFaults(api, [fault as Fault]);
    expect(result.error, result.message).toBeUndefined();
    expect(result.requests).toBe(2);
    expect((await storeState(result.root)).store).toHaveLength(2);
  });

  it.each([
    [400, "Request contains an invalid argument."],
    [401, "Incorrect API key provided."],
    [403, "The caller does not have permission."],
  ] as const)("%i: not retried, one request, the API's message", async (status, googleSaid) => {
    const result = await buildWithFaults(api, [{ kind: "status", status, message: googleSaid, times: 3 }]);
    expect(result.requests).toBe(1);
    expect(result.message).toBe(`${result.prefix}${host} answered ${status}: "${googleSaid}"`);
    await expectCleanFailure(result);
  });

  it("a 200 whose body is not JSON: not asked again, since the image may exist and be charged", async () => {
    const result = await buildWithFaults(api, [{ kind: "malformed-json", times: 3 }]);
    expect(result.requests).toBe(1);
    expect(result.message).toMatch(
      new RegExp(`^${escape(result.prefix)}${escape(host)} answered 200 with an answer that could not be read \\(".+"\\): the image may have been generated and charged anyway; it is not requested again$`),
    );
    await expectCleanFailure(result);
  });

  it("a 200 without an image (a safety refusal): not retried, one request", async () => {
    const result = await buildWithFaults(api, [{ kind: "no-image", times: 3 }]);
    expect(result.requests).toBe(1);
    expect(result.message).toBe(`${result.prefix}the model answered without an image (it declined the prompt)`);
    await expectCleanFailure(result);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
