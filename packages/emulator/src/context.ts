import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type EmulatedApi, FaultQueue } from "./faults.js";
import type { RecordedRequest } from "./http.js";
import { ImageRenderer, type PromptObject } from "./render.js";

/** The state one running emulator shares between its routes. */
export class EmulatorContext {
  readonly requests: RecordedRequest[] = [];
  readonly downloads: RecordedRequest[] = [];
  /** `POST /api/assets` requests; the body is `{ name, type, size, sha256 }` of the file, not its bytes. */
  readonly uploads: RecordedRequest[] = [];
  /** Uploaded files by the asset path this emulator gave them. */
  readonly assets = new Map<string, Buffer>();
  readonly faults = new FaultQueue();
  readonly renderer = new ImageRenderer((path) => this.assets.get(path));
  /** Prompt objects by hash, so a download can render what its generation asked for. */
  readonly prompts = new Map<string, PromptObject>();
  readonly #secret = randomBytes(32);
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    /** The emulator's own URL, used when a request carries no Host header. */
    public url: string,
    /** The one key each API accepts; any non-empty key where unset. */
    readonly apiKeys: Readonly<Record<EmulatedApi, string | undefined>>,
    readonly latencyMs: number,
  ) {}

  /** Why a request's API-KEY header is refused (a 401's message), or `undefined` when it is accepted. */
  keyProblem(req: IncomingMessage): string | undefined {
    const key = req.headers["api-key"];
    if (typeof key !== "string" || key.trim() === "") return "Missing API-KEY header";
    if (this.apiKeys.onemin !== undefined && key !== this.apiKeys.onemin) return "Invalid API key";
    return undefined;
  }

  /** The origin the client reached us at, so temporaryUrl works behind port mappings too. */
  publicUrl(req: IncomingMessage): string {
    const host = req.headers.host;
    return host ? `http://${host}` : this.url;
  }

  /** Like S3's X-Amz-Signature: only URLs this emulator handed out download. */
  sign(fileId: string): string {
    return createHmac("sha256", this.#secret).update(fileId).digest("hex");
  }

  verify(fileId: string, signature: string): boolean {
    const expected = Buffer.from(this.sign(fileId));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** A delay that `close()` can cancel, so no timer outlives the server. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
    });
  }

  reset(): void {
    this.requests.length = 0;
    this.downloads.length = 0;
    this.uploads.length = 0;
    this.faults.clear();
  }

  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
