import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** What the provider reads of an HTTP answer: the part of fetch's `Response` it needs. */
export interface HttpAnswer {
  readonly status: number;
  readonly statusText: string;
  /** 2xx. */
  readonly ok: boolean;
  /** A header's value (several joined with ", "), or `null`. */
  header(name: string): string | null;
  /** The body, chunk by chunk; reading it is optional once {@link cancel} is called. */
  readonly body: AsyncIterable<Uint8Array>;
  /** Stops the transfer: the rest of the body is never read. */
  cancel(): void;
}

/** A body read from a file (or anything readable) as it is sent, opened again for each try. */
export interface StreamedBody {
  /** Its length in bytes, sent as `Content-Length`. */
  length: number;
  open(): Readable;
}

export interface HttpRequest {
  /** @default "GET" */
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string | StreamedBody;
  signal?: AbortSignal;
  /**
   * Fails the request (and the reading of its answer) with an {@link IdleTimeoutError} when no byte
   * goes either way for this long: a slow link that keeps moving is never cut, however large the
   * transfer, while a stalled one is.
   */
  idleTimeoutMs?: number;
}

/** No byte went either way for `idleTimeoutMs`: the connection stalled. */
export class IdleTimeoutError extends Error {
  readonly idleMs: number;
  constructor(idleMs: number) {
    super(`no data for ${idleMs} ms`);
    this.name = "IdleTimeoutError";
    this.idleMs = idleMs;
  }
}

/**
 * One HTTP request over node:http or node:https (their keep-alive agents), never following a
 * redirect. Not `fetch`: it costs 3.4–6.3 ms of CPU per generation (a request and its download)
 * where node:http costs 0.8–1.4 ms, on the one thread that also reads the answers of the other
 * generations in flight and starts the next ones. An abort destroys the request: the caller
 * sees an `AbortError` and reads the reason from its signal.
 */
export async function httpRequest(url: URL, { method = "GET", headers = {}, body, signal, idleTimeoutMs }: HttpRequest = {}): Promise<HttpAnswer> {
  // Loaded when first needed: https brings TLS, and a warm build makes no request.
  const { request } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
  const streamed = body !== undefined && typeof body === "object" && "open" in body ? body : undefined;
  const size = body === undefined ? undefined : streamed ? streamed.length : Buffer.byteLength(body as Uint8Array | string);
  const length = size === undefined ? {} : { "Content-Length": String(size) };
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method, headers: { ...headers, ...length }, ...(signal ? { signal } : {}) });
    let answer: IncomingMessage | undefined;
    // The socket's own inactivity timer: it counts bytes sent and received, the body's too, and
    // whoever reads the answer sees why it stopped.
    if (idleTimeoutMs !== undefined) {
      outgoing.setTimeout(idleTimeoutMs, () => {
        const error = new IdleTimeoutError(idleTimeoutMs);
        answer?.destroy(error);
        outgoing.destroy(error);
      });
    }
    outgoing.on("error", reject);
    outgoing.on("response", (incoming) => {
      answer = incoming;
      resolve(answerOf(incoming));
    });
    if (!streamed) return void outgoing.end(body);
    // Piped, so that only a chunk of the file is in memory at a time, however large it is.
    pipeline(streamed.open(), outgoing).catch((error: unknown) => outgoing.destroy(error as Error));
  });
}

function answerOf(incoming: IncomingMessage): HttpAnswer {
  const status = incoming.statusCode ?? 0;
  return {
    status,
    statusText: incoming.statusMessage ?? "",
    ok: status >= 200 && status < 300,
    header(name) {
      const value = incoming.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
    body: incoming,
    cancel: () => incoming.destroy(),
  };
}

/** Whether an answer's status is worth another try: a timeout, too many requests, a server error. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date; `undefined` when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * A `FormData` as the bytes and `Content-Type` (with its boundary) that `fetch` would send: the
 * multipart encoding is the platform's, not ours.
 */
export async function encodeFormData(form: FormData): Promise<{ body: Uint8Array; contentType: string }> {
  const encoded = new Request("http://form.invalid/", { method: "POST", body: form });
  return { body: new Uint8Array(await encoded.arrayBuffer()), contentType: encoded.headers.get("content-type")! };
}
