// Who may change the lock through the review page (issue 22, after Vite's CVE-2025-24010): a page
// of another origin must be able neither to read the token nor to send a change, and a page that
// reaches the server under another host name (DNS rebinding) must get nothing at all.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/** The header every changing request carries the token in: a custom header also forces a CORS preflight, which nobody answers. */
export const TOKEN_HEADER = "x-imagegen-token";

/** A per-process secret, given to the page inside its HTML, which no other origin can read. */
export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

/** Whether an address (a socket's, or one to listen on) is this machine's loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const bare = address.replace(/^\[|\]$/g, "").replace(/^::ffff:/, "");
  return bare === "localhost" || bare === "::1" || (isIP(bare) === 4 && bare.startsWith("127."));
}

/**
 * For a server of its own on loopback (`imagegen review`): the Host header must name loopback
 * and this port, or the request came through a name that resolves here by accident or by design.
 */
export function hostProblem(req: IncomingMessage, port: number): string | undefined {
  const host = req.headers.host ?? "";
  const match = /^(.*):(\d+)$/.exec(host);
  if (match && Number(match[2]) === port && isLoopback(match[1])) return undefined;
  return `Host ${JSON.stringify(host)} is not this server's loopback address`;
}

/**
 * Why a changing request is refused, or `undefined` when it may go on: it must come from this
 * machine, from a page of this very origin (Origin and Host agree; Sec-Fetch-Site, when sent,
 * says same-origin), as JSON, with the token.
 */
export function changeProblem(req: IncomingMessage, token: string): string | undefined {
  if (!isLoopback(req.socket.remoteAddress)) return "changes are accepted from this machine only";
  const origin = req.headers.origin;
  let originHost: string | undefined;
  try {
    originHost = origin ? new URL(origin).host : undefined;
  } catch {
    originHost = undefined;
  }
  if (originHost === undefined || originHost !== req.headers.host) return `a change from another origin (${origin ?? "none"}) is refused`;
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") return `a change from a ${site} page is refused`;
  if (!/^application\/json(;|$)/.test(req.headers["content-type"] ?? "")) return "a change must be sent as application/json";
  const given = Buffer.from(String(req.headers[TOKEN_HEADER] ?? ""));
  const expected = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "the token is missing or wrong (reload the page)";
  return undefined;
}
