import { createRequire } from "node:module";
import type aws4 from "aws4";
import pLimit, { type LimitFunction } from "p-limit";
import { backoffDelay, sleep } from "../abortable-sleep.js";
import { ImagegenError } from "../errors.js";
import { IdleTimeoutError, type StreamedBody, httpRequest, isTransientStatus } from "../http.js";
import { contentTypeOfFile, extensionOf, isOriginalFormat } from "../spec/formats.js";
import { sha256Hex } from "../spec/key.js";
import type { Rendition } from "../render/variants.js";
import { type CachedRendition, assembleRendition, parseRenditionEntry, serializeRendition } from "./derived-cache.js";
import { type OriginalMeta, latestChosen } from "./store.js";
import { type Price, priceProblem } from "../cost/price.js";

/** Where a remote store lives: `s3://bucket/prefix`, parsed. */
export interface RemoteLocation {
  bucket: string;
  /** Without leading or trailing `/`; may be empty. */
  prefix: string;
}

/** What the remote keeps beside an original's bytes (`originals/<sha256>.json`): enough to store it locally. */
export interface RemoteOriginalMeta {
  sha256: string;
  /** `<sha256>.<ext>` */
  file: string;
  format: string;
  bytes: number;
  width: number;
  height: number;
  provider: string;
  recordId?: string;
  /** The origin of the API that made it, as the local store records it. */
  origin?: string;
  createdAt: string;
  /** What it cost, as the local store records it. */
  price?: Price;
}

/** One original made for a key, as the remote's index of that key records it. */
export interface KeyCandidate {
  sha256: string;
  /** When it was made (ISO 8601). */
  createdAt: string;
  /** When a person last chose it (ISO 8601), as the local store's `chosenAt`. */
  chosenAt?: string;
}

/** `<prefix>/keys/<key>.json`: every original ever made for a key, so that any machine finds them by key. */
export interface KeyIndex {
  version: 1;
  key: string;
  /** Oldest first. */
  candidates: KeyCandidate[];
}

export interface RemoteStoreOptions {
  /** `s3://bucket/prefix` */
  url: string;
  /** May this process upload? False for `remote.write: false`, `IMAGEGEN_REMOTE_WRITE=0` and frozen mode. */
  write: boolean;
  /** Attempts in total for a transient failure (5xx, 429, 409 conflicts, 408, resets, timeouts). */
  attempts: number;
  /** How long a request may go without a byte either way, in milliseconds (an inactivity timeout: a large transfer on a slow link is never cut while it moves). */
  timeoutMs: number;
  /** Requests at once. @default 16 */
  concurrency?: number;
  /** Told once per run when the bucket's answers need explaining (a 403 for a missing object). */
  onHint?: (message: string) => void;
  /** Wait before the first retry, in milliseconds; it grows as the API's retries do. */
  retryDelayMs: number;
  /** The AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL_S3`, …). */
  env: NodeJS.ProcessEnv;
}

/** A remote object that is there but cannot be used: its bytes do not match their sha256, or its JSON is not valid. */
export class CorruptRemoteObjectError extends ImagegenError {
  readonly object: string;
  constructor(object: string, problem: string) {
    super(`${object} ${problem}.`);
    this.name = "CorruptRemoteObjectError";
    this.object = object;
  }
}

/** Parses `s3://bucket/prefix`; returns what is wrong instead when it is not one. */
export function parseRemoteUrl(text: string): RemoteLocation | string {
  const match = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/.exec(text.trim());
  if (!match) return `"${text}" is not an s3://bucket/prefix URL`;
  const bucket = match[1]!;
  // S3's and R2's rules, and Google Cloud Storage's, which also allow "_" (and longer dotted names).
  if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(bucket) || bucket.split(".").some((part) => part.length > 63)) {
    return `"${bucket}" is not a bucket name (3 to 63 lower-case letters, digits, ".", "-" or "_", dotted parts up to 63 each)`;
  }
  const prefix = (match[2] ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((part) => part === "." || part === "..")) return `the prefix "${prefix}" has a "." or ".." segment`;
  return { bucket, prefix };
}

/** Transfers at once per process: enough to fill a link, few enough for a small MinIO. */
export const DEFAULT_REMOTE_CONCURRENCY = 16;

/** Where the original of a sha256 stands on the remote (`imagegen check` and `push` look at both its objects). */
export type RemoteOriginalState = "present" | "absent" | "bytes missing" | "bytes wrong size";

/**
 * The remote tier of the store (SPEC §10): an S3-compatible bucket shared by a team and its CI.
 * Originals are content-addressed (`<prefix>/originals/<sha256>.<ext>`, JSON beside), found by key
 * through `<prefix>/keys/<key>.json` (every original made for the key), and renditions sit under
 * `<prefix>/derived/<key>.rendition`, keyed like the local derived cache. Every request is signed with
 * SigV4 by aws4 (none when no key is set: a public bucket); writes are write-once
 * (`If-None-Match: *`) but for a key's index, which only grows (`If-Match` on the version read). Messages name the `s3://` URL and the endpoint, never a credential.
 */
export class RemoteStore {
  /** `s3://bucket/prefix`, for messages. */
  readonly url: string;
  readonly writable: boolean;
  readonly location: RemoteLocation;
  readonly #base: string;
  readonly #endpointNote: string;
  readonly #credentials: aws4.Credentials | undefined;
  readonly #region: string;
  readonly #secrets: string[];
  readonly #limit: LimitFunction;
  readonly #options: RemoteStoreOptions;
  /** Google Cloud Storage's XML API takes its create-only precondition in its own header. */
  readonly #gcs: boolean;
  #hinted403 = false;

  constructor(options: RemoteStoreOptions) {
    const location = parseRemoteUrl(options.url);
    if (typeof location === "string") throw new ImagegenError(`Invalid remote: ${location}.`);
    this.#options = options;
    this.#limit = pLimit(options.concurrency ?? DEFAULT_REMOTE_CONCURRENCY);
    this.location = location;
    this.url = `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ""}`;
    this.writable = options.write;
    const { env } = options;
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
    const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
    if (endpoint) {
      let parsed: URL;
      try {
        parsed = new URL(endpoint);
      } catch {
        throw new ImagegenError(`Invalid AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL: not a URL.`);
      }
      parsed.username = "";
      parsed.password = "";
      const origin = parsed.href.replace(/\/+$/, "");
      // A custom endpoint (MinIO, R2, a local server) is addressed path-style.
      this.#base = `${origin}/${location.bucket}`;
      this.#endpointNote = ` at ${origin}`;
      this.#gcs = parsed.hostname === "storage.googleapis.com";
    } else {
      // Virtual-hosted style; a bucket with dots would not match the wildcard certificate.
      this.#base = location.bucket.includes(".")
        ? `https://s3.${region}.amazonaws.com/${location.bucket}`
        : `https://${location.bucket}.s3.${region}.amazonaws.com`;
      this.#endpointNote = "";
      this.#gcs = false;
    }
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    const sessionToken = env.AWS_SESSION_TOKEN || undefined;
    this.#secrets = [accessKeyId, secretAccessKey, sessionToken].filter((value): value is string => Boolean(value));
    this.#credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) } : undefined;
    this.#region = region;
  }

  /** Requests at once (`remote.concurrency`): how many transfers a caller should keep going. */
  get concurrency(): number {
    return this.#options.concurrency ?? DEFAULT_REMOTE_CONCURRENCY;
  }

  /** `s3://bucket/prefix/<path>`, the name of an object in messages. */
  objectUrl(path: string): string {
    return `${this.url}/${path}`;
  }

  // ── Originals ────────────────────────────────────────────────────────────────────────────────

  /**
   * The original whose bytes hash to `sha256`, or `undefined` when the remote has none. Bytes that
   * do not hash to it, or a JSON that does not describe it, throw a {@link CorruptRemoteObjectError}.
   */
  async getOriginal(sha256: string): Promise<{ bytes: Buffer; meta: RemoteOriginalMeta } | undefined> {
    const metaPath = `originals/${sha256}.json`;
    const text = (await this.#request("GET", metaPath))?.body;
    if (text === undefined) return undefined;
    const meta = parseOriginalMeta(text.toString("utf8"), sha256);
    if (typeof meta === "string") throw new CorruptRemoteObjectError(this.objectUrl(metaPath), `is not valid original metadata (${meta})`);
    const bytesPath = `originals/${meta.file}`;
    const bytes = (await this.#request("GET", bytesPath))?.body;
    if (bytes === undefined) {
      throw new CorruptRemoteObjectError(
        this.objectUrl(bytesPath),
        `is missing but ${this.objectUrl(metaPath)} refers to it. A machine whose store has this original uploads it again with \`imagegen push --repair\``,
      );
    }
    if (sha256Hex(bytes) !== sha256) {
      throw new CorruptRemoteObjectError(this.objectUrl(bytesPath), `does not match its sha256 ${sha256} (the lock's): refused as corrupt`);
    }
    return { bytes, meta };
  }

  /** Whether the remote holds the original of `sha256`: its JSON (written last, it commits it) and its bytes, of the size the JSON says. */
  async hasOriginal(sha256: string): Promise<boolean> {
    return (await this.originalState(sha256)) === "present";
  }

  /** Where the original of `sha256` stands: both objects there, none, or its JSON without (the right) bytes. */
  async originalState(sha256: string): Promise<RemoteOriginalState> {
    const metaPath = `originals/${sha256}.json`;
    const text = (await this.#request("GET", metaPath))?.body;
    if (text === undefined) return "absent";
    const meta = parseOriginalMeta(text.toString("utf8"), sha256);
    if (typeof meta === "string") throw new CorruptRemoteObjectError(this.objectUrl(metaPath), `is not valid original metadata (${meta})`);
    const head = await this.#request("HEAD", `originals/${meta.file}`);
    if (!head) return "bytes missing";
    return head.length === undefined || head.length === meta.bytes ? "present" : "bytes wrong size";
  }

  /**
   * Whether the bytes of the original of `sha256` on the remote hash to it (`imagegen push
   * --repair`): downloads them. `undefined` when the remote has no such original.
   */
  async verifyOriginal(sha256: string): Promise<boolean | undefined> {
    try {
      return (await this.getOriginal(sha256)) !== undefined ? true : undefined;
    } catch (error) {
      if (error instanceof CorruptRemoteObjectError) return false;
      throw error;
    }
  }

  /**
   * Uploads an original, bytes first and the JSON last; an object already there is kept
   * (write-once), unless `replace` (`imagegen push --repair`, for objects whose bytes are wrong).
   */
  async putOriginal(meta: OriginalMeta, bytes: Uint8Array | StreamedBody, { replace = false } = {}): Promise<void> {
    const extension = isOriginalFormat(meta.format) ? extensionOf(meta.format) : meta.file.slice(meta.file.lastIndexOf(".") + 1);
    const file = `${meta.sha256}.${extension}`;
    const remoteMeta: RemoteOriginalMeta = {
      sha256: meta.sha256,
      file,
      format: meta.format,
      bytes: meta.bytes,
      width: meta.width,
      height: meta.height,
      provider: meta.provider,
      ...(meta.recordId !== undefined && { recordId: meta.recordId }),
      ...(meta.origin !== undefined && { origin: meta.origin }),
      createdAt: meta.createdAt,
      ...(meta.price !== undefined && { price: meta.price }),
    };
    const json = Buffer.from(`${JSON.stringify(remoteMeta, null, 2)}\n`);
    if (replace) {
      await this.#put(`originals/${file}`, bytes, {}, meta.sha256);
      await this.#put(`originals/${meta.sha256}.json`, json, {});
      return;
    }
    await this.#putOnce(`originals/${file}`, bytes, meta.sha256);
    await this.#putOnce(`originals/${meta.sha256}.json`, json);
  }

  // ── Originals by key ─────────────────────────────────────────────────────────────────────────

  /** The index of `key` (every original made for it), or `undefined` when the remote has none. */
  async getKeyIndex(key: string): Promise<KeyIndex | undefined> {
    return (await this.#readKeyIndex(key))?.index;
  }

  /**
   * Adds originals to the index of `key` (a chosen one's `chosenAt` too): the index is read, merged
   * and written back only if nobody wrote it meanwhile (`If-Match`), else read and merged again.
   * Merging only adds, so two writers racing lose nothing.
   */
  async recordCandidates(key: string, candidates: KeyCandidate[]): Promise<void> {
    const path = keyIndexPath(key);
    for (let attempt = 1; ; attempt++) {
      const current = await this.#readKeyIndex(key);
      const merged = mergeKeyIndex(current?.index ?? { version: 1, key, candidates: [] }, candidates);
      if (current && JSON.stringify(merged) === JSON.stringify(current.index)) return;
      // A server that names no version of what it sent is written over: merging lost nothing of what it held.
      const precondition: Record<string, string> = !current ? this.#createOnly() : current.etag ? { "If-Match": current.etag } : {};
      const written = await this.#put(path, Buffer.from(`${JSON.stringify(merged, null, 2)}\n`), precondition);
      if (written) return;
      if (attempt >= 5) throw new ImagegenError(`Could not write ${this.objectUrl(path)}${this.#endpointNote}: other writers kept changing it.`);
    }
  }

  async #readKeyIndex(key: string): Promise<{ index: KeyIndex; etag: string | undefined } | undefined> {
    const path = keyIndexPath(key);
    const found = await this.#request("GET", path);
    if (!found) return undefined;
    const index = parseKeyIndex(found.body.toString("utf8"), key);
    if (typeof index === "string") throw new CorruptRemoteObjectError(this.objectUrl(path), `is not a key index (${index})`);
    return { index, etag: found.etag };
  }

  // ── Renditions ───────────────────────────────────────────────────────────────────────────────

  /**
   * The rendition cached under `derived/<key>.rendition`, or `undefined` when there is none. Bytes
   * that do not match their sha256 throw a {@link CorruptRemoteObjectError} (the caller renders it again).
   */
  async getRendition(key: string): Promise<Rendition | undefined> {
    const object = `derived/${key}.rendition`;
    const packed = (await this.#request("GET", object))?.body;
    if (packed === undefined) return undefined;
    const rendition = unpackRendition(packed, key);
    if (!rendition) throw new CorruptRemoteObjectError(this.objectUrl(object), "is not a rendition whose variants match their sha256");
    return rendition;
  }

  /** Uploads a rendition, write-once, as one object: one request per rendition for a cold CI machine, not one per variant. */
  async putRendition(key: string, rendition: Rendition): Promise<void> {
    await this.#putOnce(`derived/${key}.rendition`, packRendition(key, rendition));
  }

  /**
   * The build pack named by `digest` (`derived/packs/<digest>.pack`): the renditions that builds of
   * one lockfile used, in one object, so that a cold machine reads them in one request. Each
   * rendition is checked as {@link getRendition} checks one; `undefined` when there is no pack.
   */
  async getPack(digest: string): Promise<Map<string, Rendition> | undefined> {
    const object = packPath(digest);
    const packed = (await this.#request("GET", object))?.body;
    if (packed === undefined) return undefined;
    const renditions = unpackBuild(packed);
    if (!renditions) throw new CorruptRemoteObjectError(this.objectUrl(object), "is not a pack of renditions whose variants match their sha256");
    return renditions;
  }

  /** Writes the build pack named by `digest` (replacing one that is there: the writer merged it). */
  async putPack(digest: string, renditions: Map<string, Rendition>): Promise<void> {
    await this.#put(packPath(digest), packBuild(renditions), {});
  }

  // ── Requests ─────────────────────────────────────────────────────────────────────────────────

  /** PUT with `If-None-Match: *`: a 412 means the object is already there, which is success. */
  async #putOnce(path: string, bytes: Uint8Array | StreamedBody, sha256?: string): Promise<void> {
    await this.#put(path, bytes, this.#createOnly(), sha256);
  }

  #createOnly(): Record<string, string> {
    return this.#gcs ? { "If-None-Match": "*", "x-goog-if-generation-match": "0" } : { "If-None-Match": "*" };
  }

  /** PUT under a precondition; `false` when it did not hold (412), written otherwise. */
  async #put(path: string, bytes: Uint8Array | StreamedBody, precondition: Record<string, string>, sha256?: string): Promise<boolean> {
    if (sha256 === undefined && !(bytes instanceof Uint8Array)) throw new Error(`A streamed upload of ${path} needs its sha256`);
    const payloadSha256 = sha256 ?? sha256Hex(bytes as Uint8Array);
    if (!this.writable) throw new ImagegenError(`Not writing ${this.objectUrl(path)}: the remote is read-only in this run.`);
    const answer = await this.#request("PUT", path, {
      body: bytes,
      headers: {
        "Content-Type": path.endsWith(".json") ? "application/json" : contentTypeOfFile(path),
        ...precondition,
        // S3 checks the payload against it, so a damaged upload is refused rather than stored.
        "X-Amz-Content-Sha256": payloadSha256,
      },
    });
    return answer?.status !== 412;
  }

  /**
   * One request, retried like the API's when transient. Resolves with the body and ETag
   * (`undefined` for a 404; an empty body for a HEAD or PUT, whose 412 resolves too);
   * throws an {@link ImagegenError} naming the object and the endpoint, never a credential.
   */
  async #request(
    method: "GET" | "HEAD" | "PUT",
    path: string,
    init: { body?: Uint8Array | StreamedBody; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: Buffer; etag: string | undefined; length: number | undefined } | undefined> {
    const { attempts, timeoutMs, retryDelayMs } = this.#options;
    const url = `${this.#base}/${[...(this.location.prefix ? this.location.prefix.split("/") : []), ...path.split("/")].map(encodeURIComponent).join("/")}`;
    const name = `${this.objectUrl(path)}${this.#endpointNote}`;
    let lastProblem = "";
    for (let attempt = 1; ; attempt++) {
      let retryable: boolean;
      try {
        const response = await this.#limit(() => this.#send(method, url, init, timeoutMs));
        if (response.status === 404 && method !== "PUT") return undefined;
        // A bucket policy without s3:ListBucket answers 403, not 404, for an object that is not there.
        if (response.status === 403 && method !== "PUT" && (response.code === "AccessDenied" || method === "HEAD")) {
          this.#hint403();
          return undefined;
        }
        if ((response.status === 412 && method === "PUT") || response.ok) return response;
        lastProblem = `HTTP ${response.status}${response.code ? ` ${response.code}` : ""}${regionHint(response)}`;
        // 409 is two writers racing on one key (ConditionalRequestConflict): the next try settles it.
        retryable = isTransientStatus(response.status) || (response.status === 409 && method === "PUT");
      } catch (error) {
        lastProblem = this.#redact(error instanceof IdleTimeoutError ? `no data for ${timeoutMs} ms` : causeMessage(error));
        retryable = true;
      }
      if (!retryable || attempt >= attempts) {
        const tries = attempt > 1 ? ` after ${attempt} attempts` : "";
        const verb = method === "PUT" ? "write" : "read";
        throw new ImagegenError(`Could not ${verb} ${name}: ${lastProblem}${tries}.${accessHint(lastProblem, method)}`);
      }
      await sleep(backoffDelay(attempt, retryDelayMs, 30_000), undefined);
    }
  }

  async #send(
    method: string,
    url: string,
    init: { body?: Uint8Array | StreamedBody; headers?: Record<string, string> },
    timeoutMs: number,
  ): Promise<{ status: number; ok: boolean; body: Buffer; etag: string | undefined; length: number | undefined; code: string | undefined; region: string | undefined }> {
    const target = new URL(url);
    const headers = this.#credentials ? this.#sign(method, target, init.headers ?? {}) : (init.headers ?? {});
    const response = await httpRequest(target, { method, headers, ...(init.body && { body: init.body }), idleTimeoutMs: timeoutMs });
    const chunks: Uint8Array[] = [];
    for await (const chunk of response.body) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    // S3's error code (NoSuchBucket, AccessDenied, …); the rest of its XML may echo a key id.
    const code = response.ok ? undefined : /<Code>([A-Za-z]+)<\/Code>/.exec(body.toString("utf8"))?.[1];
    const length = response.header("content-length");
    return {
      status: response.status,
      ok: response.ok,
      body,
      etag: response.header("etag") ?? undefined,
      length: length === null ? undefined : Number(length),
      code,
      region: response.header("x-amz-bucket-region") ?? undefined,
    };
  }

  /**
   * The request's headers with its SigV4 signature, by aws4: synchronous, on node:crypto. (aws4fetch,
   * used before, builds fetch's `Request` and `Headers` and signs through Web Crypto: loading
   * Node's fetch implementation and 40 signatures cost a cold CI build ~85 ms of a whole process,
   * against ~15 ms.) The payload is covered by its X-Amz-Content-Sha256 header (UNSIGNED-PAYLOAD for
   * a request without a body), so the body itself is not handed to the signer, which would hash it
   * again (an upload of 300 originals). Retries are ours (`#request`).
   */
  #sign(method: string, target: URL, headers: Record<string, string>): Record<string, string> {
    const signed = loadAws4().sign(
      {
        method,
        host: target.host,
        path: `${target.pathname}${target.search}`,
        headers: { "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD", ...headers },
        service: "s3",
        region: this.#region,
      },
      this.#credentials,
    );
    return signed.headers as Record<string, string>;
  }

  #hint403(): void {
    if (this.#hinted403) return;
    this.#hinted403 = true;
    this.#options.onHint?.(
      `${this.url}${this.#endpointNote} answers 403 for objects that are not there, as a bucket policy without s3:ListBucket does: ` +
        "imagegen reads them as missing. Grant s3:ListBucket on the bucket to tell a missing object from a refused one.",
    );
  }

  #redact(text: string): string {
    let clean = text;
    for (const secret of this.#secrets) clean = clean.replaceAll(secret, "***");
    return clean;
  }
}

/** A network error by its code (ECONNRESET, ECONNREFUSED…), a wrapped one by its cause's. */
function causeMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error.cause ?? error) as { code?: string; message?: string };
  return cause.code ?? cause.message ?? error.message;
}

/** S3 answers a bucket of another region with 301 PermanentRedirect and names the region. */
function regionHint(response: { status: number; region: string | undefined }): string {
  if (response.status !== 301) return "";
  return response.region ? ` (the bucket is in ${response.region}: set AWS_REGION=${response.region})` : " (the bucket is in another region: set AWS_REGION to it)";
}

function accessHint(problem: string, method: string): string {
  if (!/HTTP 40[13]/.test(problem)) return "";
  return method === "PUT"
    ? " Check that the AWS credentials of this run may write to the bucket (or set IMAGEGEN_REMOTE_WRITE=0)."
    : " Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the bucket's policy.";
}

/**
 * A rendition as one object: a line of JSON (the local derived cache's `<key>.json`, plus each
 * variant's byte length), then the variants' bytes back to back, in the JSON's order.
 */
function packRendition(key: string, rendition: Rendition): Buffer {
  const { entry, files } = serializeRendition(key, rendition);
  const header = { ...entry, sizes: files.map(({ bytes }) => bytes.byteLength) };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...files.map(({ bytes }) => bytes)]);
}

function unpackRendition(packed: Buffer, key: string): Rendition | undefined {
  const newline = packed.indexOf(10);
  if (newline < 0) return undefined;
  const headerText = packed.subarray(0, newline).toString("utf8");
  // The local cache's entry, with each variant's byte length beside it.
  const entry = parseRenditionEntry(headerText, key) as (CachedRendition & { sizes?: unknown }) | undefined;
  const sizes = entry?.sizes;
  if (!entry || !Array.isArray(sizes) || sizes.length !== entry.variants.length || !sizes.every(Number.isSafeInteger)) return undefined;
  const files: Buffer[] = [];
  let offset = newline + 1;
  for (const size of sizes as number[]) {
    files.push(packed.subarray(offset, offset + size));
    offset += size;
  }
  return offset === packed.length ? assembleRendition(entry, files) : undefined;
}

/** The build pack's name for a lockfile: the sha256 of its bytes (a pull request that changes no image has main's). */
export function packDigest(lockfileBytes: Uint8Array): string {
  return sha256Hex(lockfileBytes).slice(0, 32);
}

let aws4Module: typeof aws4 | undefined;

/** aws4, loaded with the first signed request: a build without a remote (most of them) never needs it. */
function loadAws4(): typeof aws4 {
  aws4Module ??= createRequire(import.meta.url)("aws4") as typeof aws4;
  return aws4Module;
}

function packPath(digest: string): string {
  return `derived/packs/${digest}.pack`;
}

/** A line of JSON (each rendition's key and packed length), then each rendition as {@link packRendition} packs it. */
function packBuild(renditions: Map<string, Rendition>): Buffer {
  const parts = [...renditions].map(([key, rendition]) => ({ key, packed: packRendition(key, rendition) }));
  const header = { version: 1, renditions: parts.map(({ key, packed }) => [key, packed.length]) };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...parts.map(({ packed }) => packed)]);
}

function unpackBuild(packed: Buffer): Map<string, Rendition> | undefined {
  const newline = packed.indexOf(10);
  if (newline < 0) return undefined;
  let header: { version?: unknown; renditions?: unknown };
  try {
    header = JSON.parse(packed.subarray(0, newline).toString("utf8"));
  } catch {
    return undefined;
  }
  if (header.version !== 1 || !Array.isArray(header.renditions)) return undefined;
  const renditions = new Map<string, Rendition>();
  let offset = newline + 1;
  for (const item of header.renditions as unknown[]) {
    if (!Array.isArray(item) || typeof item[0] !== "string" || !Number.isSafeInteger(item[1])) return undefined;
    const [key, length] = item as [string, number];
    const rendition = unpackRendition(packed.subarray(offset, offset + length), key);
    if (!rendition) return undefined;
    renditions.set(key, rendition);
    offset += length;
  }
  return offset === packed.length ? renditions : undefined;
}

function keyIndexPath(key: string): string {
  return `keys/${key}.json`;
}

/** The index with `candidates` added (a known one takes the later `chosenAt`), oldest first. */
function mergeKeyIndex(index: KeyIndex, candidates: KeyCandidate[]): KeyIndex {
  const bySha = new Map(index.candidates.map((candidate) => [candidate.sha256, { ...candidate }]));
  for (const candidate of candidates) {
    const known = bySha.get(candidate.sha256);
    if (!known) bySha.set(candidate.sha256, { ...candidate });
    else if (candidate.chosenAt && (!known.chosenAt || candidate.chosenAt > known.chosenAt)) known.chosenAt = candidate.chosenAt;
  }
  const sorted = [...bySha.values()].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  return { version: 1, key: index.key, candidates: sorted };
}

/** A stored original as its key's index records it. */
export function keyCandidateOf(meta: OriginalMeta): KeyCandidate {
  return { sha256: meta.sha256, createdAt: meta.createdAt, ...(meta.chosenAt !== undefined && { chosenAt: meta.chosenAt }) };
}

/** Of a key's candidates, the one chosen last, else the one made last (the local store's rule). */
export function preferredCandidate(index: KeyIndex): KeyCandidate | undefined {
  return latestChosen(index.candidates);
}

/** A JSON object, or what is wrong with the text. */
function parseJsonObject(text: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not an object";
  return value as Record<string, unknown>;
}

function parseKeyIndex(text: string, key: string): KeyIndex | string {
  const index = parseJsonObject(text);
  if (typeof index === "string") return index;
  if (index.version !== 1) return `"version" is not 1`;
  if (index.key !== key) return `"key" is not "${key}"`;
  if (!Array.isArray(index.candidates)) return `"candidates" is not a list`;
  for (const candidate of index.candidates as Record<string, unknown>[]) {
    if (typeof candidate !== "object" || candidate === null) return "a candidate is not an object";
    if (typeof candidate.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(candidate.sha256)) return `a candidate's "sha256" is not 64 hex digits`;
    if (typeof candidate.createdAt !== "string") return `a candidate's "createdAt" is not a string`;
    if (candidate.chosenAt !== undefined && typeof candidate.chosenAt !== "string") return `a candidate's "chosenAt" is not a string`;
  }
  return index as unknown as KeyIndex;
}

function parseOriginalMeta(text: string, sha256: string): RemoteOriginalMeta | string {
  const meta = parseJsonObject(text);
  if (typeof meta === "string") return meta;
  if (meta.sha256 !== sha256) return `"sha256" is not ${sha256}`;
  // The file name is joined to the prefix: it must not point elsewhere.
  if (typeof meta.file !== "string" || !new RegExp(`^${sha256}\\.[a-z0-9]+$`).test(meta.file)) return `"file" is not "${sha256}.<ext>"`;
  for (const field of ["format", "provider", "createdAt"]) if (typeof meta[field] !== "string") return `"${field}" is not a string`;
  for (const field of ["bytes", "width", "height"]) if (typeof meta[field] !== "number") return `"${field}" is not a number`;
  if (meta.recordId !== undefined && typeof meta.recordId !== "string") return `"recordId" is not a string`;
  const price = priceProblem(meta.price);
  if (price) return `"price" ${price}`;
  return meta as unknown as RemoteOriginalMeta;
}
