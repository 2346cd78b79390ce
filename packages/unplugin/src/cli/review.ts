import { spawn } from "node:child_process";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Engine, type Logger } from "@imagegen/core";
import { hostProblem, isLoopback } from "../review/request-guard.js";
import { ReviewServer } from "../review/review-server.js";
import type { Output } from "./output.js";
import { type CommonFlags, projectOptions } from "./project.js";

export interface ReviewFlags extends CommonFlags {
  /** @default 0 (a free port) */
  port?: number;
  /** Beyond loopback, the page is read-only. @default "127.0.0.1" */
  host?: string;
  /** Open the page in the default browser. @default false */
  open?: boolean;
}

/**
 * `imagegen review`: serves the review page (SPEC §13) on 127.0.0.1 at a free port and prints its
 * URL, until Ctrl-C. On another host it is read-only: a change is accepted from this machine only.
 */
export async function reviewCommand(flags: ReviewFlags, out: Output): Promise<number> {
  const logger: Logger = { info: (message) => out.note(message), warn: (message) => out.note(`warning: ${message}`) };
  const options = await projectOptions(flags, out, logger);
  // One engine for the session: maxGenerations counts every re-roll the page starts.
  const engine = new Engine(options);
  const host = flags.host ?? "127.0.0.1";
  const loopback = isLoopback(host);
  const review = new ReviewServer({ getEngine: async () => engine, ...(!loopback && { readOnly: `imagegen review listens on ${host}, beyond this machine` }) });
  let port = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // A name that merely resolves here (DNS rebinding) gets nothing, not even the page.
    const problem = loopback ? hostProblem(req, port) : undefined;
    let route: string | undefined;
    try {
      route = decodeURIComponent((req.url ?? "/").split("?")[0]!.replace(/^\/+/, ""));
    } catch {
      route = undefined;
    }
    if (problem || route === undefined) {
      res.statusCode = problem ? 421 : 400;
      res.setHeader("Content-Type", "text/plain; charset=utf-8");
      res.end(`imagegen: ${problem ?? "bad URL"}\n`);
      return;
    }
    review.handle(req, res, route).catch((error: unknown) => {
      out.note(`error: ${(error as Error).message}`);
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(flags.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;
  out.print(`Review page: ${url}`);
  out.note(loopback ? "Ctrl-C stops it." : `Read-only: on ${host} the page is seen beyond this machine, so nothing can be changed from it.`);
  if (flags.open) openInBrowser(url);

  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  // A re-roll the API already made (and charged) is still stored.
  await engine.drain();
  return 0;
}

/** `--open`: the platform's own opener; a failure to open changes nothing. */
function openInBrowser(url: string): void {
  const [command, ...args] = process.platform === "darwin" ? ["open"] : process.platform === "win32" ? ["cmd", "/c", "start", '""'] : ["xdg-open"];
  const child = spawn(command!, [...args, url], { detached: true, stdio: "ignore" });
  child.on("error", () => {});
  child.unref();
}
