import type { IncomingMessage, ServerResponse } from "node:http";
import type { GenerationFault } from "./faults.js";
import { sendJson, sendPadded } from "./http.js";

/** How an API words an error: its body for a status, and the headers that go with it (Retry-After). */
export type ErrorShape = (status: number, message: string | undefined, retryAfter: string | undefined) => {
  body: unknown;
  headers?: Record<string, string>;
};

/**
 * Answers the faults every API has alike: a status (in the API's own error shape), a request that
 * is never answered, a connection reset, and a 200 whose body is the first 40 characters of
 * `sample` (longer than that, so that they are not JSON).
 * Returns false for a fault of the API's own, for it to answer.
 */
export function answerSharedFault(
  req: IncomingMessage,
  res: ServerResponse,
  fault: GenerationFault,
  errorShape: ErrorShape,
  sample: unknown,
): boolean {
  switch (fault.kind) {
    case "status": {
      const { body, headers = {} } = errorShape(fault.status, fault.message, fault.retryAfter);
      if (fault.statusText === undefined && fault.bodyBytes === undefined) {
        sendJson(res, fault.status, body, headers);
      } else {
        const json = { ...headers, "Content-Type": "application/json; charset=utf-8" };
        void sendPadded(res, fault.status, fault.statusText, json, JSON.stringify(body), fault.bodyBytes ?? 0);
      }
      return true;
    }
    case "hang":
      return true; // the socket stays open until the client gives up or the emulator closes
    case "reset":
      req.socket.destroy();
      return true;
    case "malformed-json":
      res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(sample).slice(0, 40));
      return true;
    default:
      return false;
  }
}

/** `Retry-After` (delay-seconds or an HTTP date) as whole seconds from now, for APIs that say it in their body. */
export function retryAfterSeconds(retryAfter: string): number {
  const text = retryAfter.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text));
  const date = Date.parse(text);
  return Number.isNaN(date) ? 0 : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
