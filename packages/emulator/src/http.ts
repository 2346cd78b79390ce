import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";

/** What the emulator received, for tests to assert on. */
export interface RecordedRequest {
  method: string;
  /** Path and query string as sent; a `key` query parameter (Google's) is replaced by "[redacted]". */
  path: string;
  /** Lower-case names; the API-KEY, Authorization and x-goog-api-key values are replaced by "[redacted]". */
  headers: Record<string, string>;
  /** Parsed JSON when the body was JSON, else its text; `undefined` when there was none. */
  body: unknown;
  /** `Date.now()` when the request arrived. */
  at: number;
}

export const REDACTED = "[redacted]";
const SECRET_HEADERS = new Set(["api-key", "authorization", "x-goog-api-key"]);

/** A request's path and query as sent, without the API key Google's clients may put in `key=`. */
export function recordPath(path: string): string {
  return path.replace(/([?&]key=)[^&#]*/g, `$1${encodeURIComponent(REDACTED)}`);
}

export function recordHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const recorded: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    recorded[name] = SECRET_HEADERS.has(name) ? REDACTED : Array.isArray(value) ? value.join(", ") : value;
  }
  return recorded;
}

export class BodyTooLargeError extends Error {}

/** Reads the whole body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(`Request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** `undefined` for an empty body, the parsed value for JSON, the text otherwise. */
export function parseBody(text: string): { json: boolean; value: unknown } {
  if (text === "") return { json: false, value: undefined };
  try {
    return { json: true, value: JSON.parse(text) };
  } catch {
    return { json: false, value: text };
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Errors answer `{"message": …}`, the shape clients quote. */
export function sendError(res: ServerResponse, status: number, message: string, headers?: Record<string, string>): void {
  sendJson(res, status, { message }, headers);
}

/**
 * Sends `text`, then spaces up to `totalBytes` (an oversized body a client must bound), streamed with
 * back-pressure and stopped as soon as the client leaves.
 */
export async function sendPadded(
  res: ServerResponse,
  status: number,
  statusText: string | undefined,
  headers: Record<string, string>,
  text: string,
  totalBytes: number,
): Promise<void> {
  const head = Buffer.from(text);
  const total = Math.max(totalBytes, head.length);
  const allHeaders = { ...headers, "Content-Length": String(total) };
  if (statusText === undefined) res.writeHead(status, allHeaders);
  else res.writeHead(status, statusText, allHeaders);
  const spaces = Buffer.alloc(64 * 1024, 0x20);
  let flushed = res.write(head);
  for (let sent = head.length; sent < total && !res.destroyed; ) {
    if (!flushed) await drained(res);
    const size = Math.min(spaces.length, total - sent);
    flushed = res.write(spaces.subarray(0, size));
    sent += size;
  }
  if (!res.destroyed) res.end();
}

export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
