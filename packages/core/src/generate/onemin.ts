import type { Metadata } from "sharp";
import { sleep } from "../abortable-sleep.js";
import { checkWholeImage, loadSharp } from "../sharp.js";
import type { InputImage } from "../spec/spec.js";
import { type HttpAnswer, IdleTimeoutError, encodeFormData, httpRequest, isTransientStatus, parseRetryAfter } from "../http.js";
import { WeightedSemaphore } from "../semaphore.js";
import { readInputFile } from "./input-file.js";
import { quoteProviderText, redactSecrets } from "./provider-text.js";
import { AssetUploads } from "./onemin-assets.js";
import { ProviderError, type GenerationRequest, type Provider } from "./provider.js";

export interface OneminProviderOptions {
  /** The 1min.ai API key, sent as the `API-KEY` header and nowhere else. */
  apiKey: string;
  /**
   * Base URL of the API (an emulator's URL in tests).
   * @default process.env.ONEMIN_API_URL ?? "https://api.1min.ai"
   */
  apiUrl?: string;
  /**
   * Largest image download accepted, in bytes.
   * @default 67108864 (64 MiB)
   */
  maxDownloadBytes?: number;
  /**
   * How long a download may go without receiving a byte before the attempt is given up, in
   * milliseconds. An inactivity timeout, not a deadline: a 33 MB 4K original on a slow link takes
   * as long as it takes while bytes keep arriving.
   * @default 60000
   */
  downloadTimeoutMs?: number;
  /**
   * Bytes of downloads in flight at once, by the size an image of the asked size can have (1K
   * 4 MiB, 2K 16 MiB, 4K 48 MiB): eight 4K originals on a home line come in turns instead of
   * sharing it eightfold, and their buffers stay within this bound.
   * @default 201326592 (192 MiB: four 4K originals)
   */
  downloadBudgetBytes?: number;
  /**
   * Whether what this API makes is kept in the store and the lock. An `apiUrl` other than 1min.ai's
   * (an emulator, a test server) makes throwaway images by default, as the placeholder provider
   * does, so that offline work never looks paid; a relay of the same model sets `true`.
   * @default true for https://api.1min.ai, false for any other apiUrl
   */
  persistent?: boolean;
  /**
   * Tries of the download of one generated image (the same `temporaryUrl`) before giving up.
   * A failed download is never fixed by generating again, which would be paid twice.
   * @default 3
   */
  downloadAttempts?: number;
  /**
   * Wait before the second download attempt, doubled for each further one; a `Retry-After` wins (up to 10 s).
   * @default 500
   */
  downloadRetryDelayMs?: number;
}

/** Where the 1min.ai API lives when neither `apiUrl` nor `ONEMIN_API_URL` says otherwise. */
export const DEFAULT_API_URL = "https://api.1min.ai";
const MAX_REDIRECTS = 3;
/** The API's answer is a small JSON record: more than this is not an answer to read whole. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** An error body is only quoted (200 characters): read no more of it than this. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** What a download of an image of each size may hold at most, for the download budget. */
const DOWNLOAD_WEIGHT: Record<GenerationRequest["size"], number> = { "1K": 4 * 2 ** 20, "2K": 16 * 2 ** 20, "4K": 48 * 2 ** 20 };

interface OneminSettings {
  apiKey: string;
  endpoint: URL;
  assetsEndpoint: URL;
  apiOrigin: string;
  /** `host[:port]` of the API, to name it in messages. */
  apiHost: string;
  maxDownloadBytes: number;
  downloadTimeoutMs: number;
  downloadAttempts: number;
  downloadRetryDelayMs: number;
  /** Downloads in flight, weighted by the size they may have. */
  downloads: WeightedSemaphore;
}

/**
 * The 1min.ai image API (SPEC §1): one `POST /api/features`, then a download of the image from
 * its pre-signed `temporaryUrl`. An image with inputs (SPEC §12) is an `IMAGE_EDITOR` request whose
 * files are uploaded first (`POST /api/assets`), each at most once per provider instance.
 * Every failure is a `ProviderError` saying whether a retry may help.
 */
export function createOneminProvider(options: OneminProviderOptions): Provider {
  const settings = resolveSettings(options);
  // One per provider, so one per build or CLI run: each input file is uploaded at most once.
  const uploads = new AssetUploads((input, signal) => uploadAsset(settings, input, signal));
  return {
    id: "onemin",
    persistent: options.persistent ?? settings.apiOrigin === new URL(DEFAULT_API_URL).origin,
    origin: settings.apiOrigin,
    async generate(request, { signal, paid, assets }) {
      try {
        const inputs = request.inputs ?? [];
        const { recordId, temporaryUrl } =
          inputs.length === 0
            ? await requestGeneration(settings, generatorBody(request), signal)
            : await uploads.send(inputs, assets, settings.apiOrigin, signal, (paths) => requestGeneration(settings, editorBody(request, paths), signal));
        paid?.();
        const weight = DOWNLOAD_WEIGHT[request.size];
        await settings.downloads.acquire(weight);
        try {
          const bytes = await downloadWithRetries(settings, temporaryUrl, signal);
          return { bytes, recordId, origin: settings.apiOrigin };
        } finally {
          settings.downloads.release(weight);
        }
      } catch (error) {
        // The caller owns aborts: hand back its own reason, not a wrapped one.
        if (signal.aborted) throw signal.reason;
        throw error;
      }
    },
  };
}

function resolveSettings(options: OneminProviderOptions): OneminSettings {
  if (options.apiKey.trim() === "") throw new TypeError("The onemin provider needs a non-empty apiKey (ONEMIN_API_KEY)");
  const apiUrl = (options.apiUrl || process.env["ONEMIN_API_URL"] || DEFAULT_API_URL).replace(/\/+$/, "");
  let base: URL;
  try {
    base = new URL(apiUrl);
  } catch {
    throw new TypeError(`ONEMIN_API_URL must be an http(s) URL such as ${DEFAULT_API_URL} (got "${apiUrl}")`);
  }
  if (base.protocol !== "https:" && base.protocol !== "http:") {
    throw new TypeError(`ONEMIN_API_URL must be an http(s) URL such as ${DEFAULT_API_URL} (got "${apiUrl}")`);
  }
  return {
    apiKey: options.apiKey,
    endpoint: new URL(`${apiUrl}/api/features`),
    assetsEndpoint: new URL(`${apiUrl}/api/assets`),
    apiOrigin: base.origin,
    apiHost: base.host,
    maxDownloadBytes: options.maxDownloadBytes ?? 64 * 1024 * 1024,
    downloadTimeoutMs: options.downloadTimeoutMs ?? 60_000,
    downloadAttempts: Math.max(1, Math.floor(options.downloadAttempts ?? 3)),
    downloadRetryDelayMs: options.downloadRetryDelayMs ?? 500,
    downloads: new WeightedSemaphore(options.downloadBudgetBytes ?? 192 * 2 ** 20),
  };
}

// `variant` is never sent: it only makes a second, independent key for the same prompt.
function generatorBody(request: GenerationRequest): object {
  return {
    type: "IMAGE_GENERATOR",
    model: request.model,
    promptObject: { prompt: request.prompt, imageSize: request.size, temperature: request.temperature, topP: request.topP },
  };
}

/**
 * SPEC §12: the edited image is `imageUrl`, the references `referenceImage1`/`2`. The API requires
 * an `imageUrl`, so references alone send the first one there and the second as `referenceImage1`.
 */
function editorBody(request: GenerationRequest, assetPaths: string[]): object {
  const [imageUrl, ...references] = assetPaths;
  return {
    type: "IMAGE_EDITOR",
    model: request.model,
    promptObject: {
      imageUrl,
      prompt: request.prompt,
      imageSize: request.size,
      ...Object.fromEntries(references.map((path, i) => [`referenceImage${i + 1}`, path])),
      temperature: request.temperature,
      topP: request.topP,
    },
  };
}

/**
 * Uploads one input file to the Asset API (multipart field `asset`) and returns its asset path:
 * `fileContent.path`, else `asset.key`.
 */
async function uploadAsset(settings: OneminSettings, input: InputImage, signal: AbortSignal): Promise<string> {
  const host = settings.apiHost;
  const { bytes, type, name } = await readInputFile(input);
  const form = new FormData();
  form.append("asset", new Blob([bytes], { type }), name);
  const { body, contentType } = await encodeFormData(form);
  const { response, answerBody } = await postToApi(settings, settings.assetsEndpoint, { body, contentType }, signal, `Could not upload ${input.path} to ${host}`);
  const { text } = answerBody;
  if (!response.ok) {
    throw statusError(`${host} answered the upload of ${input.path} with`, response, providerMessage(text), settings.apiKey);
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch (cause) {
    throw new ProviderError(`${host} answered the upload of ${input.path} with a body that is not JSON: ${quoteText(text, settings.apiKey)}`, {
      retryable: true,
      cause,
    });
  }
  const path = field(field(answer, "fileContent"), "path") ?? field(field(answer, "asset"), "key");
  if (typeof path !== "string" || path === "") {
    throw new ProviderError(`${host} answered the upload of ${input.path} without fileContent.path or asset.key`, { retryable: false });
  }
  return path;
}

/**
 * POSTs to the API with its key, and reads the answer's body (bounded: an answer or an error's
 * text). A network failure is a retryable `ProviderError` that starts with `failure`.
 */
async function postToApi(
  settings: OneminSettings,
  url: URL,
  { body, contentType }: { body: Uint8Array | string; contentType: string },
  signal: AbortSignal,
  failure: string,
): Promise<{ response: HttpAnswer; answerBody: BoundedText }> {
  let response: HttpAnswer;
  try {
    // A redirect is never followed: it would carry the API-KEY header to wherever it points.
    response = await httpRequest(url, {
      method: "POST",
      headers: { "API-KEY": settings.apiKey, "Content-Type": contentType, Accept: "application/json" },
      body,
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new ProviderError(`${failure}: ${describeNetworkError(error)}`, { retryable: true, cause: error });
  }
  try {
    return { response, answerBody: await readBoundedText(response, response.ok ? MAX_ANSWER_BYTES : MAX_ERROR_BODY_BYTES) };
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    // Accepted, then cut off: the work may exist (and be charged), so asking again could pay twice.
    if (response.ok) {
      throw new ProviderError(
        `${settings.apiHost} answered ${response.status} but its answer was cut off (${describeNetworkError(error)}): ${MAY_BE_CHARGED}`,
        { retryable: false, status: response.status, mayHaveBeenCharged: true, cause: error },
      );
    }
    throw new ProviderError(`${failure}: ${describeNetworkError(error)}`, { retryable: true, cause: error });
  }
}

/** Said of an accepted request whose answer cannot be read: it is not sent again. */
const MAY_BE_CHARGED = "the image may have been generated and charged anyway; it is not requested again (check your 1min.ai history)";

/** Posts one feature request; resolves with the record id and the URL of its bytes. */
async function requestGeneration(
  settings: OneminSettings,
  body: object,
  signal: AbortSignal,
): Promise<{ recordId: string | undefined; temporaryUrl: string }> {
  const host = settings.apiHost;
  const request = { body: JSON.stringify(body), contentType: "application/json" };
  const { response, answerBody } = await postToApi(settings, settings.endpoint, request, signal, `Could not reach ${host}`);
  const quote = (value: string) => quoteText(value, settings.apiKey);

  if (REDIRECT_STATUSES.has(response.status)) {
    throw new ProviderError(`${host} answered ${response.status} (a redirect): the API request is never redirected, check ONEMIN_API_URL`, {
      retryable: false,
      status: response.status,
    });
  }
  const { text } = answerBody;
  if (!response.ok) throw statusError(`${host} answered`, response, providerMessage(text), settings.apiKey);

  // The request was accepted, so a generation may exist (and be charged) even if its answer is unreadable:
  // generating again could pay twice, so such an answer is a failure that is not retried.
  const mayExist = MAY_BE_CHARGED;
  if (answerBody.cut) {
    throw new ProviderError(`${host} answered ${response.status} with more than ${MAX_ANSWER_BYTES} bytes, not an API answer: ${mayExist}`, {
      retryable: false,
      status: response.status,
      mayHaveBeenCharged: true,
    });
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch (cause) {
    throw new ProviderError(`${host} answered ${response.status} with a body that is not JSON (${quote(text)}): ${mayExist}`, {
      retryable: false,
      status: response.status,
      mayHaveBeenCharged: true,
      cause,
    });
  }
  const record = field(answer, "aiRecord");
  if (!isObject(record)) {
    throw new ProviderError(`${host} answered without an aiRecord: ${quote(providerMessage(text))}`, { retryable: false });
  }
  const recordId = typeof record["uuid"] === "string" ? record["uuid"] : undefined;
  if (record["status"] !== "SUCCESS") {
    const message = recordMessage(answer, record);
    throw new ProviderError(
      `${host}: generation ${recordId ?? "(no id)"} ended with status ${JSON.stringify(record["status"])}` +
        (message === undefined ? "" : `: ${quote(message)}`),
      { retryable: false },
    );
  }
  const temporaryUrl = record["temporaryUrl"] ?? field(answer, "temporaryUrl");
  if (typeof temporaryUrl !== "string" || temporaryUrl === "") {
    throw new ProviderError(`${host}: generation ${recordId ?? "(no id)"} succeeded but its answer has no temporaryUrl to download`, {
      retryable: false,
    });
  }
  return { recordId, temporaryUrl };
}

/**
 * Downloads a paid image, retrying what may pass (a cut connection, a 5xx, a truncated body) on
 * the same URL. The last failure is not retryable: generating again would pay twice.
 */
async function downloadWithRetries(settings: OneminSettings, temporaryUrl: string, signal: AbortSignal): Promise<Uint8Array> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { bytes, host } = await downloadImage(settings, temporaryUrl, signal);
      await assertCompleteImage(bytes, host, settings.apiKey);
      return bytes;
    } catch (error) {
      if (!(error instanceof ProviderError) || signal.aborted) throw error;
      const last = attempt >= settings.downloadAttempts;
      if (error.retryable && !last) {
        const backoff = settings.downloadRetryDelayMs * 2 ** (attempt - 1);
        await sleep(Math.min(10_000, error.retryAfterMs ?? backoff), signal);
        continue;
      }
      if (!error.retryable) throw error;
      throw new ProviderError(attempt === 1 ? error.message : `${error.message} (after ${attempt} download attempts)`, {
        retryable: false,
        ...(error.status === undefined ? {} : { status: error.status }),
        cause: error,
      });
    }
  }
}

/** Downloads the image, bounded in size and in time without a byte, following at most a few allowed redirects. */
async function downloadImage(
  settings: OneminSettings,
  temporaryUrl: string,
  signal: AbortSignal,
): Promise<{ bytes: Uint8Array; host: string }> {
  let url = allowedDownloadUrl(settings, temporaryUrl, undefined);
  for (let redirects = 0; ; redirects++) {
    const progress: DownloadProgress = { received: 0, declared: undefined };
    try {
      // No API-KEY here: the pre-signed URL is its own credential.
      const response = await httpRequest(url, { signal, idleTimeoutMs: settings.downloadTimeoutMs });
      if (REDIRECT_STATUSES.has(response.status)) {
        response.cancel();
        const location = response.header("location");
        if (location === null) throw downloadError(`${url.host} answered ${response.status} without a Location`, false);
        if (redirects === MAX_REDIRECTS) throw downloadError(`The image download was redirected more than ${MAX_REDIRECTS} times`, false);
        url = allowedDownloadUrl(settings, location, url);
        continue;
      }
      if (!response.ok) {
        const { text } = await readBoundedText(response, MAX_ERROR_BODY_BYTES).catch(() => ({ text: "" }));
        throw statusError(`The image download from ${url.host} answered`, response, providerMessage(text), settings.apiKey);
      }
      const bytes = await readImageBody(response, url.host, settings.maxDownloadBytes, progress);
      return { bytes, host: url.host };
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      if (signal.aborted) throw signal.reason;
      const { received, declared } = progress;
      const after = received > 0 ? ` after ${received}${declared === undefined ? "" : ` of ${declared}`} bytes` : "";
      if (error instanceof IdleTimeoutError) {
        throw downloadError(`The image download from ${url.host} stalled${after}: no data for ${settings.downloadTimeoutMs} ms`, true, error);
      }
      throw downloadError(`The image download from ${url.host} failed${after}: ${describeNetworkError(error)}`, true, error);
    }
  }
}

interface BoundedText {
  text: string;
  /** True when the body was longer than the bound: `text` is its start, and the rest was not read. */
  cut: boolean;
}

/** Reads at most `max` bytes of a body as text, then stops the transfer. */
async function readBoundedText(response: HttpAnswer, max: number): Promise<BoundedText> {
  const chunks: Uint8Array[] = [];
  let received = 0;
  for await (const chunk of response.body) {
    received += chunk.byteLength;
    chunks.push(chunk);
    if (received > max) {
      response.cancel();
      return { text: Buffer.from(concat(chunks, received).subarray(0, max)).toString("utf8"), cut: true };
    }
  }
  return { text: Buffer.from(concat(chunks, received)).toString("utf8"), cut: false };
}

interface DownloadProgress {
  received: number;
  declared: number | undefined;
}

/** Reads the body, stopping as soon as it is known to be too large; a body cut short is retryable. */
async function readImageBody(response: HttpAnswer, host: string, max: number, progress: DownloadProgress): Promise<Uint8Array> {
  const length = response.header("content-length");
  const declared = length === null ? undefined : Number(length);
  progress.declared = declared;
  if (declared !== undefined && declared > max) {
    response.cancel();
    throw tooLargeError(host, `announces ${declared} bytes, more than maxDownloadBytes (${max})`);
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body) {
    progress.received += chunk.byteLength;
    if (progress.received > max) {
      response.cancel();
      throw tooLargeError(host, `sent more bytes than maxDownloadBytes (${max})`);
    }
    chunks.push(chunk);
  }
  if (declared !== undefined && progress.received < declared) {
    throw downloadError(`The image download from ${host} stopped after ${progress.received} of ${declared} bytes`, true);
  }
  return concat(chunks, progress.received);
}

/** SPEC §1: an https: URL, or one on the API's own origin (so that a local emulator works). */
function allowedDownloadUrl(settings: OneminSettings, location: string, base: URL | undefined): URL {
  let url: URL;
  try {
    url = new URL(location, base);
  } catch {
    throw downloadError(`${settings.apiHost} gave an image URL that is not a URL`, false);
  }
  if (url.protocol === "https:" || url.origin === settings.apiOrigin) return url;
  throw downloadError(
    `Refusing to download the image from ${url.protocol}//${url.host}: only https: URLs or ${settings.apiOrigin} are allowed`,
    false,
  );
}

/** Bytes must decode in full: a PNG cut short still has a valid header, so decode down to its last row. */
async function assertCompleteImage(bytes: Uint8Array, host: string, apiKey: string): Promise<void> {
  let metadata: Metadata;
  try {
    metadata = await (await loadSharp())(bytes).metadata();
  } catch (cause) {
    const start = Buffer.from(bytes.subarray(0, 40)).toString("latin1");
    throw new ProviderError(`The download from ${host} is not an image (${bytes.length} bytes starting ${quoteText(start, apiKey)})`, {
      retryable: false,
      cause,
    });
  }
  const { format } = metadata;
  try {
    await checkWholeImage(bytes, metadata);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ProviderError(`The ${format ?? "image"} from ${host} is incomplete or corrupt (${bytes.length} bytes: ${reason})`, {
      retryable: true,
      cause,
    });
  }
}

function statusError(prefix: string, response: HttpAnswer, message: string, apiKey: string): ProviderError {
  const status = response.status;
  const retryable = isTransientStatus(status);
  const retryAfterMs = parseRetryAfter(response.header("retry-after"));
  // The reason phrase is the server's text too: redacted and bounded like the body.
  const statusText = response.statusText ? ` ${redact(response.statusText, apiKey).slice(0, 80)}` : "";
  return new ProviderError(`${prefix} ${status}${statusText}: ${quoteText(message, apiKey)}`, {
    retryable,
    status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

function downloadError(message: string, retryable: boolean, cause?: unknown): ProviderError {
  return new ProviderError(message, { retryable, cause });
}

/** Not retryable: a new generation would be as large. */
function tooLargeError(host: string, detail: string): ProviderError {
  return downloadError(`The image download from ${host} ${detail}`, false);
}

/** The provider's own words from an error body: a JSON message field, S3's XML <Message>, or the text. */
function providerMessage(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    const message = findMessage(body);
    if (message !== undefined) return message;
  } catch {
    // not JSON: fall through to the text
  }
  const xmlMessage = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  if (xmlMessage !== undefined) return xmlMessage;
  return text.startsWith("<") ? text.replace(/<[^>]*>/g, " ") : text;
}

function recordMessage(answer: unknown, record: Record<string, unknown>): string | undefined {
  return findMessage(record) ?? findMessage(field(record, "aiRecordDetail")) ?? findMessage(answer);
}

function findMessage(value: unknown): string | undefined {
  for (const name of ["message", "errorMessage", "error", "detail"]) {
    const candidate = field(value, name);
    if (typeof candidate === "string" && candidate.trim() !== "") return candidate;
    const nested = field(candidate, "message");
    if (typeof nested === "string" && nested.trim() !== "") return nested;
  }
  return undefined;
}

function quoteText(text: string, apiKey: string): string {
  return quoteProviderText(text, [apiKey]);
}

function redact(text: string, apiKey: string): string {
  return redactSecrets(text, [apiKey]);
}

/** A network error's message with its code ("socket hang up (ECONNRESET)"); a wrapped one's cause speaks for it. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown }).code;
  return typeof code === "string" && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message;
}

function field(value: unknown, name: string): unknown {
  return isObject(value) ? value[name] : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
