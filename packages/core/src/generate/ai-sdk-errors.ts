import { parseRetryAfter } from "../http.js";
import { ProviderError } from "./provider.js";
import { quoteProviderText } from "./provider-text.js";

/** The AI SDK marks its errors with registered symbols, so they are recognised across copies of the package. */
const AI_SDK_ERROR = Symbol.for("vercel.ai.error");
const API_CALL_ERROR = Symbol.for("vercel.ai.error.AI_APICallError");

/** What imagegen reads of the AI SDK's `APICallError`. */
interface ApiCallError extends Error {
  url?: string;
  statusCode?: number;
  isRetryable?: boolean;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
}

/**
 * A failure of `doGenerate` as a `ProviderError`, so that `attempts`, `Retry-After` and the fault
 * table mean what they mean for 1min.ai. An `APICallError` keeps its `isRetryable` (408, 409, 429,
 * 5xx, a connection that failed) and its status, and its wait is `retry-after-ms`, `Retry-After` or
 * Google's `RetryInfo`. Anything else thrown by a model (a missing API key, an option it refuses) is
 * not retried: the AI SDK's own `generateImage` retries only `APICallError`s either.
 */
export function toProviderError(error: unknown, model: string, secrets: readonly string[]): ProviderError {
  if (error instanceof ProviderError) return error;
  const quote = (text: string) => quoteProviderText(text, secrets);
  const message = error instanceof Error ? error.message : String(error);
  if (!isMarked(error, API_CALL_ERROR)) {
    // The model's own refusal (a missing API key, an option it does not take) reads as it is.
    const what = isMarked(error, AI_SDK_ERROR) ? "" : `${model} failed unexpectedly: `;
    return new ProviderError(`${what}${quote(message)}`, { retryable: false, cause: error });
  }
  const failure = error as ApiCallError;
  const host = hostOf(failure.url);
  const status = failure.statusCode;
  const retryable = failure.isRetryable === true;
  if (status === undefined) {
    return new ProviderError(`Could not reach ${host}: ${quote(message)}`, { retryable, cause: error });
  }
  if (status >= 200 && status < 300) {
    // The request was accepted and may have been charged: asking again could pay twice.
    return new ProviderError(
      `${host} answered ${status} with an answer that could not be read (${quote(message)}): the image may have been generated and charged anyway; it is not requested again`,
      { retryable: false, status, cause: error },
    );
  }
  const retryAfterMs = retryAfterOf(failure);
  return new ProviderError(`${host} answered ${status}: ${quote(message)}`, {
    retryable,
    status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    cause: error,
  });
}

function isMarked(error: unknown, marker: symbol): boolean {
  return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[marker] === true;
}

/** The host alone: a URL may carry the API key in its query (`?key=`). */
function hostOf(url: string | undefined): string {
  try {
    return new URL(url ?? "").host || "the API";
  } catch {
    return "the API";
  }
}

/** OpenAI's `retry-after-ms`, the standard `Retry-After`, or Google's `RetryInfo.retryDelay` ("7s") in the error body. */
function retryAfterOf(error: ApiCallError): number | undefined {
  const headers = error.responseHeaders ?? {};
  const milliseconds = Number(headers["retry-after-ms"]);
  if (headers["retry-after-ms"] !== undefined && Number.isFinite(milliseconds) && milliseconds >= 0) return Math.round(milliseconds);
  return parseRetryAfter(headers["retry-after"]) ?? googleRetryDelay(error.responseBody);
}

function googleRetryDelay(body: string | undefined): number | undefined {
  if (body === undefined || !body.includes("retryDelay")) return undefined;
  try {
    const details = (JSON.parse(body) as { error?: { details?: { retryDelay?: unknown }[] } }).error?.details ?? [];
    for (const detail of details) {
      const match = typeof detail.retryDelay === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(detail.retryDelay) : null;
      if (match) return Math.round(Number(match[1]) * 1000);
    }
  } catch {
    // not JSON: no delay to read
  }
  return undefined;
}
