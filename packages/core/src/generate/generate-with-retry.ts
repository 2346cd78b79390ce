import {
  ProviderError,
  RetryError,
  toGeneratedImage,
  type AssetPaths,
  type GeneratedImage,
  type GenerationRequest,
  type Provider,
} from "./provider.js";
import { backoffDelay, sleep } from "../abortable-sleep.js";

/** How long a `Retry-After` may ask us to wait before the generation fails instead. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 600_000;

export interface RetryOptions {
  /**
   * Attempts in total, the first one included.
   * @default 4
   */
  attempts?: number;
  /**
   * The old name of `attempts` (it always counted attempts, not retries).
   * @deprecated use `attempts`
   */
  retries?: number;
  /**
   * Time allowed for each attempt, in milliseconds; an attempt that takes longer is aborted and retried.
   * @default 180000
   */
  timeoutMs?: number;
  /** Aborts everything at once: the current attempt and any wait; nothing is retried. */
  signal?: AbortSignal;
  /**
   * Called when the provider reports the generation paid (`paid()`): the API has made the image,
   * and what is left is its download. The engine then lets the next generation start.
   */
  onPaid?: () => void;
  /**
   * Shortest wait before a retry, in milliseconds.
   * @default 500
   */
  minDelayMs?: number;
  /**
   * Longest backoff wait before a retry, in milliseconds (a `Retry-After` is bounded by `maxRetryAfterMs` instead).
   * @default 30000
   */
  maxDelayMs?: number;
  /**
   * Longest `Retry-After` honoured, in milliseconds. The provider's wait is kept as it is up to this bound;
   * past it the generation fails at once with the wait that was asked, rather than spending every attempt early.
   * @default 600000 (10 minutes)
   */
  maxRetryAfterMs?: number;
  /** Handed to the provider: asset paths of input files uploaded in earlier runs. */
  assets?: AssetPaths;
  /** Called before each wait, e.g. to log "retrying in 2 s". */
  onRetry?: (info: { attempt: number; error: unknown; delayMs: number }) => void;
  /** Called as each attempt asks the provider: the API requests a run made. */
  onAttempt?: () => void;
}

/**
 * Runs `provider.generate` with a per-attempt timeout and retries what may pass: retryable
 * `ProviderError`s, timeouts and unexpected errors such as a fetch `TypeError`. A non-retryable
 * `ProviderError`, or any failure after the provider reported the attempt paid, is thrown as it
 * is, at once; when every attempt fails, a `RetryError` keeps them all.
 */
export async function generateWithRetry(
  provider: Provider,
  request: GenerationRequest,
  options: RetryOptions = {},
): Promise<GeneratedImage & { attempts: number }> {
  const { timeoutMs = 180_000, signal, minDelayMs = 500, maxDelayMs = 30_000, maxRetryAfterMs = DEFAULT_MAX_RETRY_AFTER_MS, onRetry, onPaid, onAttempt, assets } = options;
  const attempts = Math.max(1, Math.floor(options.attempts ?? options.retries ?? 4));
  const errors: unknown[] = [];
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const state = { paid: false };
    onAttempt?.();
    try {
      const image = await attemptOnce(provider, request, timeoutMs, signal, state, assets, onPaid);
      return { ...image, attempts: attempt };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (state.paid || (error instanceof ProviderError && !error.retryable)) throw error;
      errors.push(error);
      if (attempt >= attempts) {
        throw new RetryError(`${messageOf(error)} (after ${attempt} attempts)`, errors);
      }
      if (error instanceof ProviderError && error.retryAfterMs !== undefined && error.retryAfterMs > maxRetryAfterMs) {
        throw new RetryError(
          `${messageOf(error)} (asked to retry after ${formatWait(error.retryAfterMs)}, longer than maxRetryAfterMs ${formatWait(maxRetryAfterMs)}: ` +
            `try again later; after ${attempt} ${attempt === 1 ? "attempt" : "attempts"})`,
          errors,
        );
      }
      const delayMs = retryDelay(attempt, error, minDelayMs, maxDelayMs);
      onRetry?.({ attempt, error, delayMs });
      await sleep(delayMs, signal);
    }
  }
}

/**
 * One call to the provider, aborted after `timeoutMs` or by the caller's signal, even if the
 * provider ignores its signal, unless the provider reports the generation paid first: from then on
 * the image is fetched and kept whatever happens to the caller (a dev server that closes), bounded
 * by the provider's own download timeouts, since what was paid for must not be thrown away.
 */
async function attemptOnce(
  provider: Provider,
  request: GenerationRequest,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  state: { paid: boolean },
  assets: AssetPaths | undefined,
  onPaid: (() => void) | undefined,
): Promise<GeneratedImage> {
  const attempt = new AbortController();
  const timer = setTimeout(() => {
    attempt.abort(new ProviderError(`${provider.id} did not answer within ${timeoutMs} ms`, { retryable: true }));
  }, timeoutMs);
  const onCallerAbort = () => {
    if (!state.paid) attempt.abort(signal!.reason);
  };
  if (signal?.aborted) onCallerAbort();
  signal?.addEventListener("abort", onCallerAbort, { once: true });
  const attemptSignal = attempt.signal;
  let stopWaiting: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(attemptSignal.reason);
    attemptSignal.addEventListener("abort", onAbort, { once: true });
    stopWaiting = () => {
      attemptSignal.removeEventListener("abort", onAbort);
      signal?.removeEventListener("abort", onCallerAbort);
    };
  });
  const paid = () => {
    if (state.paid) return;
    state.paid = true;
    clearTimeout(timer);
    onPaid?.();
  };
  const generation = provider.generate(request, { signal: attemptSignal, paid, ...(assets ? { assets } : {}) });
  // A provider that ignores its signal may still settle later; nobody is listening by then.
  generation.catch(() => {});
  try {
    return toGeneratedImage(await Promise.race([generation, aborted]), provider.id);
  } finally {
    clearTimeout(timer);
    stopWaiting();
  }
}

/**
 * Exponential backoff with full jitter between `minDelayMs` and a ceiling that doubles each
 * attempt, capped by `maxDelayMs`; a `Retry-After` from the provider wins as it is (the caller
 * has already refused one longer than `maxRetryAfterMs`).
 */
function retryDelay(attempt: number, error: unknown, minDelayMs: number, maxDelayMs: number): number {
  if (error instanceof ProviderError && error.retryAfterMs !== undefined) {
    return Math.max(minDelayMs, error.retryAfterMs);
  }
  return backoffDelay(attempt, minDelayMs, maxDelayMs);
}

/** "90 s", "12 min": a wait as a person reads it. */
function formatWait(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  return seconds <= 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
