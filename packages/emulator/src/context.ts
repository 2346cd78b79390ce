import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type EmulatedApi, FaultQueue } from "./faults.js";
import type { RecordedRequest } from "./http.js";
import { ImageRenderer, type PromptObject, hashPromptObject } from "./render.js";

/** The state one running emulator shares between its routes. */
export class EmulatorContext {
  readonly requests: RecordedRequest[] = [];
  readonly downloads: RecordedRequest[] = [];
  /** `POST /api/assets` requests; the body is `{ name, type, size, sha256 }` of the file, not its bytes. */
  readonly uploads: RecordedRequest[] = [];
  /** Uploaded files by the asset path this emulator gave them. */
  readonly assets = new Map<string, Buffer>();
  readonly faults = new FaultQueue();
  readonly renderer: ImageRenderer;
  /** Prompt objects by hash, so a download can render what its generation asked for. */
  readonly prompts = new Map<string, PromptObject>();
  /** Generations made of each request (by the hash of its prompt object), for {@link PromptObject.take}. */
  readonly #takes = new Map<string, number>();
  readonly #secret = randomBytes(32);
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    /** The emulator's own URL, used when a request carries no Host header. */
    public url: string,
    /** The one key each API accepts; any non-empty key where unset. */
    readonly apiKeys: Readonly<Record<EmulatedApi, string | undefined>>,
    readonly latencyMs: number,
    grain = false,
  ) {
    this.renderer = new ImageRenderer((path) => this.assets.get(path), { grain });
  }

  /** Why a request's API-KEY header is refused (a 401's message), or `undefined` when it is accepted. */
  keyProblem(req: IncomingMessage): string | undefined {
    const key = req.headers["api-key"];
    if (typeof key !== "string" || key.trim() === "") return "Missing API-KEY header";
    if (this.apiKeys.onemin !== undefined && key !== this.apiKeys.onemin) return "Invalid API key";
    return undefined;
  }

  /**
   * The prompt object to render for a request: its next take (0 for the first time it is asked),
   * counted with `advance`; without it, the take the next generation will be (to render it early).
   */
  take(promptObject: PromptObject, { advance = true } = {}): PromptObject {
    const take = this.takeOf(hashPromptObject(promptObject), { advance });
    return take === 0 ? promptObject : { ...promptObject, take };
  }

  /** The take of a request known by its hash (Google's and OpenAI's APIs): 0 the first time, then 1, 2, … */
  takeOf(request: string, { advance = true } = {}): number {
    const take = this.#takes.get(request) ?? 0;
    if (advance) this.#takes.set(request, take + 1);
    return take;
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
    this.#takes.clear();
  }

  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
