import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type DiscoveredSpec,
  type Engine,
  type EntryChange,
  ImagegenError,
  LockChangedError,
  type OriginalKey,
  discoverSpecs,
  entryRevision,
  truncate,
} from "@imagegen/core";
import { type BuiltReview, type ReviewAsset, buildReview, generationProblem, renderAsset } from "./review-data.js";
import { PAGE_ASSETS, type PageAsset, pageAsset, reviewHtml } from "./review-html.js";
import type { ReviewAnswer, ReviewData } from "./review-types.js";
import { changeProblem, newToken } from "./request-guard.js";

export interface ReviewServerOptions {
  getEngine: () => Promise<Engine>;
  /** Why nothing may be changed here (a server listening beyond loopback), if so. */
  readOnly?: string;
  /** A person's choice re-pinned `key`: the dev server swaps the app's images through HMR. */
  onChosen?: (key: OriginalKey) => void;
}

/** The most candidates one re-roll may ask for: the page's keys reach 9. */
export const MAX_REROLL = 9;
/** Page image names kept answerable: the newest, like the dev server's. */
const MAX_ASSETS = 4_096;
const MAX_BODY_BYTES = 16 * 1024;

/** The page's headers: no other origin may frame it, read it or run anything in it. */
const PAGE_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Frame-Options": "DENY",
};

class Refused extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly withData = true,
  ) {
    super(message);
  }
}

/**
 * The review page's server (SPEC §13), one for `imagegen review` and for Vite's `/__imagegen/`:
 * the page, its data, each candidate's previews rendered on request, and the changes (approve,
 * re-roll, undo), each checked by {@link changeProblem} and written atomically to the lock.
 * Routes are relative to the page's folder; an image is found by its name among those the page
 * was given, never by a path.
 */
export class ReviewServer {
  readonly token = newToken();
  readonly #options: ReviewServerOptions;
  readonly #assets = new Map<string, ReviewAsset>();
  /** What this server changed in each image's entry, newest last: what `u` undoes. */
  readonly #history = new Map<OriginalKey, EntryChange[]>();

  constructor(options: ReviewServerOptions) {
    this.#options = options;
  }

  /** Answers one request; `route` is the path below the page's folder (`""` for the page). */
  async handle(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    // Vite's CORS middleware lets other localhost origins read what it serves: not this.
    for (const name of res.getHeaderNames()) if (name.startsWith("access-control-")) res.removeHeader(name);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
    res.setHeader("Referrer-Policy", "no-referrer");
    try {
      if (req.method === "POST") return await this.#change(req, res, route);
      if (req.method !== "GET" && req.method !== "HEAD") throw new Refused(405, `${req.method} is not allowed`, false);
      if (route === "") return send(res, req, 200, "text/html; charset=utf-8", reviewHtml(await this.#data(), this.#options.readOnly ? undefined : this.token), PAGE_HEADERS);
      if (route === "api/data") return send(res, req, 200, "application/json", JSON.stringify(await this.#data()));
      if (Object.hasOwn(PAGE_ASSETS, route)) return send(res, req, 200, PAGE_ASSETS[route as PageAsset], await pageAsset(route as PageAsset));
      const asset = route.startsWith("images/") ? this.#assets.get(route.slice("images/".length)) : undefined;
      if (!asset) throw new Refused(404, "no such file on the review page", false);
      const bytes = await renderAsset(await this.#options.getEngine(), asset);
      return send(res, req, 200, "image/webp", bytes, { "Cache-Control": "private, max-age=31536000, immutable" });
    } catch (error) {
      // The body of a refused request is read and dropped: a reset connection would hide the answer.
      if (!req.readableEnded) req.resume();
      const status = error instanceof Refused ? error.status : error instanceof LockChangedError ? 409 : error instanceof ImagegenError ? 400 : 500;
      const message = error instanceof Error ? error.message : String(error);
      if (req.method !== "POST" || (error instanceof Refused && !error.withData)) return send(res, req, status, "text/plain; charset=utf-8", `imagegen: ${message}\n`);
      const answer: ReviewAnswer = { ok: false, message: await this.#clean(message), data: await this.#data().catch(() => undefined) };
      return send(res, req, status, "application/json", JSON.stringify(answer));
    }
  }

  /** The page's data now; the names of its images become answerable. */
  async #data(): Promise<ReviewData> {
    return (await this.#build()).data;
  }

  async #build(): Promise<BuiltReview> {
    const engine = await this.#options.getEngine();
    const discovery = await discoverSpecs(engine.options);
    const readOnly = this.#options.readOnly;
    const built = await buildReview(engine, discovery, {
      mode: readOnly ? "read-only" : "live",
      ...(readOnly && { readOnlyReason: readOnly }),
      clean: (text) => this.#cleanWith(engine, text),
    });
    for (const [name, asset] of built.assets) {
      this.#assets.delete(name);
      this.#assets.set(name, asset);
    }
    for (const oldest of this.#assets.keys()) {
      if (this.#assets.size <= MAX_ASSETS) break;
      this.#assets.delete(oldest);
    }
    return built;
  }

  async #change(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    if (this.#options.readOnly) throw new Refused(403, `this review page is read-only: ${this.#options.readOnly}`, false);
    const problem = changeProblem(req, this.token);
    // Refused before the body is read, with nothing of the page in the answer.
    if (problem) throw new Refused(403, problem, false);
    const body = await readJson(req);
    const engine = await this.#options.getEngine();
    const image = await findImage(engine, body.key);
    let message: string;
    if (route === "api/approve") message = await this.#approve(engine, image, body);
    else if (route === "api/reroll") message = await this.#reroll(engine, image, body);
    else if (route === "api/undo") message = await this.#undo(engine, image);
    else throw new Refused(404, `no such action ${JSON.stringify(route)}`, false);
    const answer: ReviewAnswer = { ok: true, message: await this.#clean(message), data: await this.#data() };
    send(res, req, 200, "application/json", JSON.stringify(answer));
  }

  async #approve(engine: Engine, image: DiscoveredSpec, body: Record<string, unknown>): Promise<string> {
    const sha256 = typeof body.sha256 === "string" && /^[0-9a-f]{64}$/.test(body.sha256) ? body.sha256 : undefined;
    if (!sha256) throw new Refused(400, "approve needs the sha256 of a candidate");
    const meta = await engine.candidate(image.spec, sha256);
    if (!meta) throw new Refused(404, `"${truncate(image.spec.prompt)}" has no candidate ${sha256.slice(0, 12)}… in the stores`);
    const change = await engine.choose(meta, { approve: true, expected: revisionOf(body) });
    this.#remember(change);
    return `Approved sha256 ${sha256.slice(0, 12)}… for "${truncate(image.spec.prompt)}"; the lock pins it.`;
  }

  async #reroll(engine: Engine, image: DiscoveredSpec, body: Record<string, unknown>): Promise<string> {
    const n = body.n;
    if (!Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > MAX_REROLL) throw new Refused(400, `a re-roll makes 1 to ${MAX_REROLL} candidates`);
    const count = n as number;
    const cannot = generationProblem(engine);
    if (cannot) throw new Refused(409, `cannot re-roll here: ${cannot}`);
    if (count > engine.generationsLeft) {
      throw new Refused(409, `${count} paid generations asked, but maxGenerations leaves ${engine.generationsLeft} in this session: nothing was started`);
    }
    const before = (await engine.lockPolicy.current()).images[image.key];
    // Against the entry the page showed: nothing is paid for on a stale page.
    if (revisionOf(body) !== undefined && entryRevision(before) !== revisionOf(body)) throw new LockChangedError(image.key);
    // An image only stored is locked first; one with no original at all is made by `imagegen generate`, not here.
    if (!before) {
      if (!(await engine.store.readMeta(image.key).catch(() => undefined))) {
        throw new Refused(409, `"${truncate(image.spec.prompt)}" has no original yet: \`imagegen generate\` (or a build) makes its first`);
      }
      await engine.resolveOriginal(image.spec);
    }
    const locked = (await engine.lockPolicy.current()).images[image.key];
    const made = await Promise.all(Array.from({ length: count }, () => engine.newCandidate(image.spec)));
    const after = (await engine.lockPolicy.current()).images[image.key];
    this.#remember({ key: image.key, before: locked, after });
    return `Made ${made.length} new candidate${made.length === 1 ? "" : "s"} of "${truncate(image.spec.prompt)}": pending until one is approved.`;
  }

  async #undo(engine: Engine, image: DiscoveredSpec): Promise<string> {
    const changes = this.#history.get(image.key);
    const last = changes?.at(-1);
    if (!last) throw new Refused(409, `nothing to undo for "${truncate(image.spec.prompt)}" in this session`);
    const undone = await engine.restore(last);
    changes!.pop();
    if (undone.before?.sha256 !== undone.after?.sha256) this.#options.onChosen?.(image.key);
    return `Undone: "${truncate(image.spec.prompt)}" is back to ${undone.after ? `sha256 ${undone.after.sha256.slice(0, 12)}…` : "no lock entry"}.`;
  }

  #remember(change: EntryChange): void {
    const changes = this.#history.get(change.key) ?? [];
    changes.push(change);
    this.#history.set(change.key, changes);
    if (change.before?.sha256 !== change.after?.sha256) this.#options.onChosen?.(change.key);
  }

  async #clean(text: string): Promise<string> {
    return this.#cleanWith(await this.#options.getEngine(), text);
  }

  #cleanWith(engine: Engine, text: string): string {
    let cleaned = text;
    for (const secret of engine.options.secrets) cleaned = cleaned.split(secret).join("[redacted]");
    return cleaned.split(`${engine.options.root}/`).join("");
  }
}

function revisionOf(body: Record<string, unknown>): string | undefined {
  return typeof body.revision === "string" ? body.revision : undefined;
}

/** The image in use with this key, as the CLI finds the project's images. */
async function findImage(engine: Engine, key: unknown): Promise<DiscoveredSpec> {
  if (typeof key !== "string" || !/^[0-9a-f]{20}$/.test(key)) throw new Refused(400, "a change names the key of an image");
  const image = (await discoverSpecs(engine.options)).specs.find((spec) => spec.key === key);
  if (!image) throw new Refused(404, `no image in use has key ${key} (an edited prompt? reload the page)`);
  return image;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw new Refused(413, "the request is too large", false);
    chunks.push(chunk);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Said below.
  }
  throw new Refused(400, "the request is not a JSON object", false);
}

function send(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.statusCode = status;
  res.setHeader("Content-Type", type);
  res.setHeader("Content-Length", String(bytes.byteLength));
  if (!headers["Cache-Control"]) res.setHeader("Cache-Control", "no-store");
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(req.method === "HEAD" ? undefined : bytes);
}
