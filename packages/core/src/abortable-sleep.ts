/** Waits `ms`, or rejects with the signal's own reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    // An abort that came before the wait began fires no event: reject at once.
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The wait before retry `attempt` (1 for the first retry): exponential backoff with full jitter
 * between `minDelayMs` and a ceiling that doubles each attempt, capped by `maxDelayMs`. The API's
 * retries and the remote store's use the same curve.
 */
export function backoffDelay(attempt: number, minDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** attempt);
  return Math.round(minDelayMs + Math.random() * Math.max(0, ceiling - minDelayMs));
}
