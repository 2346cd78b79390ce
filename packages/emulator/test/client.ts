/** A minimal client of the emulator for its own tests: plain fetch, no imagegen code. */
export const KEY = "test-key-5f3a9c";

export interface PromptFields {
  prompt?: unknown;
  imageSize?: unknown;
  temperature?: unknown;
  topP?: unknown;
}

export function featureBody(promptObject: PromptFields = {}, overrides: Record<string, unknown> = {}) {
  return {
    type: "IMAGE_GENERATOR",
    model: "gemini-3-pro-image-preview",
    promptObject: { prompt: "a lighthouse at dawn", imageSize: "1K", temperature: 1, topP: 0.95, ...promptObject },
    ...overrides,
  };
}

export function postFeature(
  url: string,
  body: unknown = featureBody(),
  options: { key?: string | null; signal?: AbortSignal } = {},
): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  const key = options.key === undefined ? KEY : options.key;
  if (key !== null) headers["API-KEY"] = key;
  return fetch(`${url}/api/features`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** Generates and returns the parsed answer, failing on anything but 200. */
export async function generate(url: string, promptObject: PromptFields = {}): Promise<any> {
  const response = await postFeature(url, featureBody(promptObject));
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${await response.text()}`);
  return response.json();
}
