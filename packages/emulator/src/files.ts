import type { ServerResponse } from "node:http";
import type { EmulatorContext } from "./context.js";
import { decodeDownloadFault, type DownloadFault } from "./faults.js";
import { drained, sendPadded } from "./http.js";

/** `/files/<sha256 of the prompt object>-<nonce>[.<encoded download fault>].png` */
const FILE_PATH = /^\/files\/(([0-9a-f]{64})-[0-9a-f]{12}(?:\.([A-Za-z0-9_-]+))?)\.png$/;

/** What S3 says for the statuses tests usually ask for. */
const STORAGE_ERRORS: Record<number, [code: string, message: string]> = {
  400: ["InvalidRequest", "Invalid request"],
  403: ["AccessDenied", "Request has expired"],
  404: ["NoSuchKey", "The specified key does not exist."],
  503: ["SlowDown", "Please reduce your request rate."],
};

/** Serves the image behind a temporaryUrl, or the download fault its generation was given. */
export async function answerDownload(context: EmulatorContext, res: ServerResponse, url: URL): Promise<void> {
  const [, fileId = "", hash = "", encodedFault] = FILE_PATH.exec(url.pathname) ?? [];
  const promptObject = context.prompts.get(hash);
  if (promptObject === undefined) return sendStorageError(res, 404, "NoSuchKey", "The specified key does not exist.");
  if (!context.verify(fileId, url.searchParams.get("X-Amz-Signature") ?? "")) {
    return sendStorageError(res, 403, "SignatureDoesNotMatch", "The request signature we calculated does not match.");
  }
  let fault: DownloadFault | undefined;
  try {
    fault = encodedFault === undefined ? undefined : decodeDownloadFault(encodedFault);
  } catch {
    return sendStorageError(res, 404, "NoSuchKey", "The specified key does not exist.");
  }

  switch (fault?.kind) {
    case "download-status": {
      const [code, message] = STORAGE_ERRORS[fault.status] ?? ["InternalError", "We encountered an internal error. Please try again."];
      return sendStorageError(res, fault.status, code, fault.message ?? message, fault.bodyBytes);
    }
    case "redirect-download":
      res.writeHead(302, { Location: fault.location, "Content-Length": 0 });
      res.end();
      return;
    case "non-image-download": {
      const html = "<!doctype html><html><head><title>Access denied</title></head><body><h1>Access denied</h1></body></html>";
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": Buffer.byteLength(html) });
      res.end(html);
      return;
    }
    case "oversized-download":
      return streamFiller(res, fault.bytes, fault.contentLength !== false);
  }

  const png = await context.renderer.render(promptObject);
  const half = png.subarray(0, Math.floor(png.length / 2));
  switch (fault?.kind) {
    case "truncated-download":
      return sendTruncated(res, png.length, half, fault.contentLength !== false);
    case "download-hang":
      res.writeHead(200, { "Content-Type": "image/png", "Content-Length": png.length });
      res.write(half);
      return; // never ended: the client's download timeout must fire
    default:
      res.writeHead(200, { "Content-Type": "image/png", "Content-Length": png.length, "Cache-Control": "private" });
      res.end(png);
  }
}

/** S3 answers errors in XML; clients should quote it rather than expect JSON. */
function sendStorageError(res: ServerResponse, status: number, code: string, message: string, bodyBytes?: number): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</Message></Error>`;
  if (bodyBytes !== undefined) {
    void sendPadded(res, status, undefined, { "Content-Type": "application/xml" }, xml, bodyBytes);
    return;
  }
  res.writeHead(status, { "Content-Type": "application/xml", "Content-Length": Buffer.byteLength(xml) });
  res.end(xml);
}

/**
 * Writes the response by hand so the connection can end early: with `announceLength` the
 * client can see bytes are missing; without, the body ends cleanly and only decoding tells.
 */
function sendTruncated(res: ServerResponse, fullLength: number, part: Buffer, announceLength: boolean): void {
  const socket = res.socket;
  if (socket === null) return;
  const length = announceLength ? `Content-Length: ${fullLength}\r\n` : "";
  const head = `HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n${length}Connection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, "latin1"), part]));
}

/** Streams `total` bytes that start like a PNG, respecting back-pressure and stopping if the client leaves. */
async function streamFiller(res: ServerResponse, total: number, announceLength: boolean): Promise<void> {
  res.writeHead(200, { "Content-Type": "image/png", ...(announceLength ? { "Content-Length": total } : {}) });
  const zeros = Buffer.alloc(64 * 1024);
  const first = Buffer.alloc(zeros.length);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(first);
  let sent = 0;
  while (sent < total && !res.destroyed) {
    const size = Math.min(zeros.length, total - sent);
    const flushed = res.write((sent === 0 ? first : zeros).subarray(0, size));
    sent += size;
    if (!flushed) await drained(res);
  }
  if (!res.destroyed) res.end();
}

