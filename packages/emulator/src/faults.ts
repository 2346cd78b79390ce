/** Which requests a fault applies to, and how many times. */
export interface FaultScope {
  /**
   * How many matching generation requests the fault is applied to.
   * @default 1
   */
  times?: number;
  /** Only generation requests whose prompt contains this text; every request when absent. */
  match?: string;
  /** Only requests to this API; every API the fault applies to when absent. */
  api?: EmulatedApi;
}

/** The APIs the emulator speaks: 1min.ai's, Google's `generateContent` and OpenAI's images API. */
export type EmulatedApi = "onemin" | "google" | "openai";

/** Faults of the generation answer itself (`POST /api/features`). */
export type GenerationFault =
  /**
   * Answer this status with `{"message"}`, e.g. 429 with Retry-After, 5xx, 401, 402 "insufficient credits".
   * `statusText` replaces the reason phrase; `bodyBytes` pads the body with spaces to that many bytes (an oversized answer).
   */
  | { kind: "status"; status: number; message?: string; retryAfter?: string; statusText?: string; bodyBytes?: number }
  /** Accept the request and never answer. */
  | { kind: "hang" }
  /** Destroy the socket: the client sees a connection reset. */
  | { kind: "reset" }
  /** 200 with a body that is not JSON. */
  | { kind: "malformed-json" }
  /** 200 SUCCESS, the answer's full length announced, half of it sent, then the connection cut: a charged generation whose answer never arrives. */
  | { kind: "cut-answer" }
  /** 200 with `aiRecord.status` "FAILED". */
  | { kind: "failed-record"; message?: string }
  /** 200 SUCCESS with no `temporaryUrl` anywhere. */
  | { kind: "no-temporary-url" }
  /** 200 SUCCESS with `temporaryUrl` at the top level instead of inside `aiRecord`. */
  | { kind: "top-level-temporary-url" }
  /** Google and OpenAI: 200 without an image (Google's `IMAGE_SAFETY` finish, OpenAI's empty `data`). */
  | { kind: "no-image" };

/** Faults of the image download; decided when the generation is answered and carried in its file id. */
export type DownloadFault =
  /** The download answers this status (e.g. 403 for an expired URL); `bodyBytes` pads its XML body to that many bytes. */
  | { kind: "download-status"; status: number; message?: string; bodyBytes?: number }
  /**
   * The download announces the full length, sends half the PNG and ends. With
   * `contentLength: false` it sends no length and closes cleanly, so only decoding can tell.
   */
  | { kind: "truncated-download"; contentLength?: boolean }
  /** The download is an HTML page with status 200. */
  | { kind: "non-image-download" }
  /** The download streams this many bytes (announced in Content-Length unless `contentLength: false`). */
  | { kind: "oversized-download"; bytes: number; contentLength?: boolean }
  /** The download sends its headers and half the image, then never finishes. */
  | { kind: "download-hang" }
  /** `temporaryUrl` points at this URL instead of the emulator. */
  | { kind: "download-url"; url: string }
  /** The download answers 302 to this location. */
  | { kind: "redirect-download"; location: string };

export type Fault = (GenerationFault | DownloadFault) & FaultScope;
export type FaultKind = Fault["kind"];

const GENERATION_KINDS = new Set<string>([
  "status",
  "hang",
  "reset",
  "malformed-json",
  "cut-answer",
  "failed-record",
  "no-temporary-url",
  "top-level-temporary-url",
  "no-image",
]);
/** The faults of Google's and OpenAI's APIs, which answer with the image itself (no record, no download). */
const IMAGE_ANSWER_KINDS = new Set<string>(["status", "hang", "reset", "malformed-json", "no-image"]);

/** Whether a fault can happen to a request of `api`. */
export function appliesTo(fault: Fault, api: EmulatedApi): boolean {
  if (fault.api !== undefined && fault.api !== api) return false;
  return api === "onemin" ? fault.kind !== "no-image" : IMAGE_ANSWER_KINDS.has(fault.kind);
}
const DOWNLOAD_KINDS = new Set<string>([
  "download-status",
  "truncated-download",
  "non-image-download",
  "oversized-download",
  "download-hang",
  "download-url",
  "redirect-download",
]);

export function isDownloadFault(fault: Fault): fault is DownloadFault & FaultScope {
  return DOWNLOAD_KINDS.has(fault.kind);
}

/** Checks a fault that came from code or over HTTP, so that a typo fails loudly instead of never firing. */
export function parseFault(value: unknown): Fault {
  if (typeof value !== "object" || value === null) throw new TypeError("A fault must be an object with a kind");
  const fault = value as Record<string, unknown>;
  const kind = fault["kind"];
  if (typeof kind !== "string" || !(GENERATION_KINDS.has(kind) || DOWNLOAD_KINDS.has(kind))) {
    const kinds = [...GENERATION_KINDS, ...DOWNLOAD_KINDS].join(", ");
    throw new TypeError(`Unknown fault kind ${JSON.stringify(kind)}; expected one of ${kinds}`);
  }
  const need = (field: string, type: "number" | "string") => {
    if (typeof fault[field] !== type) throw new TypeError(`Fault "${kind}" needs a ${type} "${field}"`);
  };
  if (kind === "status" || kind === "download-status") need("status", "number");
  if (kind === "oversized-download") need("bytes", "number");
  if (fault["bodyBytes"] !== undefined) need("bodyBytes", "number");
  if (fault["statusText"] !== undefined) need("statusText", "string");
  if (kind === "download-url") need("url", "string");
  if (kind === "redirect-download") need("location", "string");
  const times = fault["times"];
  if (times !== undefined && !(Number.isInteger(times) && (times as number) > 0)) {
    throw new TypeError(`Fault "times" must be a positive integer (got ${JSON.stringify(times)})`);
  }
  if (fault["match"] !== undefined) need("match", "string");
  if (fault["api"] !== undefined && !["onemin", "google", "openai"].includes(fault["api"] as string)) {
    throw new TypeError(`Fault "api" must be "onemin", "google" or "openai" (got ${JSON.stringify(fault["api"])})`);
  }
  return fault as unknown as Fault;
}

/** Faults waiting for their requests, in the order they were injected. */
export class FaultQueue {
  #queued: { fault: Fault; left: number }[] = [];

  add(fault: Fault): void {
    this.#queued.push({ fault, left: fault.times ?? 1 });
  }

  /** The first queued fault that applies to this prompt at this API, consuming one of its `times`. */
  take(prompt: string, api: EmulatedApi = "onemin"): Fault | undefined {
    const index = this.#queued.findIndex(
      ({ fault }) => appliesTo(fault, api) && (fault.match === undefined || prompt.includes(fault.match)),
    );
    const entry = this.#queued[index];
    if (entry === undefined) return undefined;
    entry.left -= 1;
    if (entry.left === 0) this.#queued.splice(index, 1);
    return entry.fault;
  }

  get size(): number {
    return this.#queued.length;
  }

  clear(): void {
    this.#queued = [];
  }
}

/** A download fault travels inside the file id, so it applies to that generation's download only. */
export function encodeDownloadFault(fault: DownloadFault): string {
  const { times: _times, match: _match, api: _api, ...rest } = fault as DownloadFault & FaultScope;
  return Buffer.from(JSON.stringify(rest)).toString("base64url");
}

export function decodeDownloadFault(encoded: string): DownloadFault {
  const fault = parseFault(JSON.parse(Buffer.from(encoded, "base64url").toString("utf8")));
  if (!isDownloadFault(fault)) throw new TypeError(`"${fault.kind}" is not a download fault`);
  return fault;
}
