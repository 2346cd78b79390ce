import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { EmulatorContext } from "./context.js";
import { parseFault, type Fault } from "./faults.js";
import { answerFeatureRequest } from "./features.js";
import { answerAssetUpload } from "./assets.js";
import { answerDownload } from "./files.js";
import { checkFeatureRequest } from "./validate.js";
import { GENERATE_CONTENT_PATH, answerGenerateContent, recordGoogleBody } from "./google.js";
import { BodyTooLargeError, parseBody, readBody, recordHeaders, recordPath, sendError, sendJson, type RecordedRequest } from "./http.js";
import { OPENAI_IMAGES_PATH, answerOpenAiImages } from "./openai.js";

export interface EmulatorOptions {
  /**
   * Port to listen on; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /**
   * When set, only this key is accepted by every API (the 1min.ai `API-KEY`, Google's
   * `x-goog-api-key` or `key=`, OpenAI's `Authorization: Bearer`); when unset, any non-empty key is.
   */
  apiKey?: string;
  /**
   * The one key Google's `generateContent` accepts.
   * @default apiKey
   */
  googleApiKey?: string;
  /**
   * The one key OpenAI's images API accepts.
   * @default apiKey
   */
  openaiApiKey?: string;
  /**
   * Delay before answering each generation request (1min.ai's `POST /api/features`, Google's
   * `generateContent`, OpenAI's images), in milliseconds.
   * @default 0
   */
  latencyMs?: number;
  /** Faults queued from the start, in order. */
  faults?: Fault[];
  /**
   * Renders with a photograph's grain, so that PNGs weigh what real ones do (a 4K original about
   * 30 MB, not 2 MB): for tests of slow links and memory. Slower to render.
   * @default false
   */
  grain?: boolean;
}

export interface Emulator {
  /**
   * E.g. `http://127.0.0.1:43123`, without a trailing slash: use it as ONEMIN_API_URL, as
   * `createGoogleGenerativeAI({ baseURL: \`${url}/v1beta\` })` and `createOpenAI({ baseURL: \`${url}/v1\` })`.
   */
  url: string;
  /**
   * Generation requests received, of every API (1min.ai's `POST /api/features`, Google's
   * `generateContent`, OpenAI's `/v1/images/…`: its `path` tells which), keys redacted.
   */
  requests: RecordedRequest[];
  /** Image downloads received. */
  downloads: RecordedRequest[];
  /** `POST /api/assets` uploads received; each body is `{ name, type, size, sha256 }` of the file. */
  uploads: RecordedRequest[];
  /** Queues a fault for the next matching generation request. */
  injectFault(fault: Fault): void;
  /** Clears recorded requests, downloads and queued faults, and starts each request's takes again (its next image is its first). */
  reset(): void;
  /** Stops listening and destroys open connections, hung ones included. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
/** Google takes inline data up to a 20 MB request. */
const MAX_GOOGLE_BODY_BYTES = 20 * 1024 * 1024;
/** The Asset API documents no limit; this only bounds what a test can make the emulator hold. */
const MAX_ASSET_BODY_BYTES = 64 * 1024 * 1024;

/** Starts an emulator of the 1min.ai image API (SPEC §9). */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? "127.0.0.1";
  const apiKeys = { onemin: options.apiKey, google: options.googleApiKey ?? options.apiKey, openai: options.openaiApiKey ?? options.apiKey };
  const context = new EmulatorContext("", apiKeys, options.latencyMs ?? 0, options.grain ?? false);
  for (const fault of options.faults ?? []) context.faults.add(parseFault(fault));

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    route(context, req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendError(res, 500, `Emulator failure: ${error instanceof Error ? error.message : String(error)}`);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  context.url = `http://${urlHost(host)}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url: context.url,
    requests: context.requests,
    downloads: context.downloads,
    uploads: context.uploads,
    injectFault: (fault) => context.faults.add(parseFault(fault)),
    reset: () => context.reset(),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        context.stop();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

async function route(context: EmulatorContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://emulator");
  const method = req.method ?? "GET";
  const isUpload = url.pathname === "/api/assets";
  const isGoogle = GENERATE_CONTENT_PATH.test(url.pathname);
  const isOpenAi = OPENAI_IMAGES_PATH.test(url.pathname);
  const limit = isUpload || isOpenAi ? MAX_ASSET_BODY_BYTES : isGoogle ? MAX_GOOGLE_BODY_BYTES : MAX_BODY_BYTES;
  const raw = await readBody(req, limit).catch((error: unknown) => {
    if (error instanceof BodyTooLargeError) return error;
    throw error;
  });
  if (raw instanceof BodyTooLargeError) return sendError(res, 413, raw.message);
  if (isUpload) {
    if (method !== "POST") return sendError(res, 405, "Use POST /api/assets", { Allow: "POST" });
    return answerAssetUpload(context, req, res, raw);
  }
  const recorded: RecordedRequest = { method, path: recordPath(req.url ?? "/"), headers: recordHeaders(req.headers), body: undefined, at: Date.now() };
  if (isGoogle || isOpenAi) {
    if (method !== "POST") return sendError(res, 405, `Use POST ${url.pathname}`, { Allow: "POST" });
    context.requests.push(recorded);
    if (context.latencyMs > 0) await context.wait(context.latencyMs);
    if (isOpenAi) return answerOpenAiImages(context, req, res, url, raw, recorded);
    const body = parseBody(raw.toString("utf8"));
    recorded.body = recordGoogleBody(body.value);
    return answerGenerateContent(context, req, res, url, body);
  }
  const body = parseBody(raw.toString("utf8"));
  recorded.body = body.value;

  if (url.pathname === "/api/features") {
    if (method !== "POST") return sendError(res, 405, "Use POST /api/features", { Allow: "POST" });
    context.requests.push(recorded);
    if (context.latencyMs > 0) {
      // The real API has made the image by the time it answers: render it during the latency,
      // so that the download that follows takes as little time as a real one.
      // It answers once the image is made (or after the latency, if later): a download then starts
      // sending at once, as a pre-signed URL of a real store does.
      const check = body.json ? checkFeatureRequest(body.value, (path) => context.assets.has(path)) : undefined;
      const rendered = check?.ok ? context.renderer.render(context.take(check.promptObject, { advance: false })).catch(() => {}) : undefined;
      await Promise.all([context.wait(context.latencyMs), rendered]);
    }
    return answerFeatureRequest(context, req, res, body);
  }
  if (url.pathname.startsWith("/files/") && (method === "GET" || method === "HEAD")) {
    context.downloads.push(recorded);
    return answerDownload(context, res, url);
  }
  return answerAdmin(context, method, url.pathname, body, res);
}

/** Endpoints for tests that run the emulator in another process. */
function answerAdmin(
  context: EmulatorContext,
  method: string,
  pathname: string,
  body: { json: boolean; value: unknown },
  res: ServerResponse,
): void {
  if (method === "GET" && pathname === "/__emulator/requests") {
    return sendJson(res, 200, { requests: context.requests, downloads: context.downloads, uploads: context.uploads });
  }
  if (method === "POST" && pathname === "/__emulator/faults") {
    try {
      const faults = Array.isArray(body.value) ? body.value : [body.value];
      for (const fault of faults.map(parseFault)) context.faults.add(fault);
    } catch (error) {
      return sendError(res, 400, error instanceof Error ? error.message : String(error));
    }
    return sendJson(res, 200, { queued: context.faults.size });
  }
  if (method === "POST" && pathname === "/__emulator/reset") {
    context.reset();
    res.writeHead(204).end();
    return;
  }
  sendError(res, 404, `No route for ${method} ${pathname}`);
}

function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
