import type { GenerationParams } from "../spec/spec.js";

/**
 * What a provider is asked for: the generation parameters of one original. `inputs`, when
 * present, are project files to edit (`edit`) or follow (`ref`); each has its absolute `file`
 * and the `sha256` its bytes must still have.
 */
export type GenerationRequest = GenerationParams;

/**
 * Where a provider remembers, across runs, what its API calls an uploaded input file (the engine
 * keeps it in the store). A remembered path may have expired: the provider uploads again when the
 * API refuses it.
 */
/**
 * The API's asset path of each uploaded input file, remembered between runs by the file's sha256
 * and the API's origin (a path one API gave means nothing to another, nor to another account's).
 */
export interface AssetPaths {
  recall(sha256: string, origin: string): Promise<string | undefined>;
  remember(sha256: string, origin: string, assetPath: string): Promise<void>;
  /** The API refused the path (or failed with it): the next request uploads the file again. */
  forget(sha256: string, origin: string): Promise<void>;
}

export interface GenerateContext {
  /** Aborted when the build stops or the request times out. */
  signal: AbortSignal;
  /**
   * Call it once the provider has accepted (and charged for) the generation, before fetching its
   * bytes. From then on the attempt's timeout no longer applies and a failure is never retried by
   * generating again, so one image is never paid for twice. The provider then bounds, and retries,
   * its own download. Optional to call.
   */
  paid?: () => void;
  /** Asset paths of input files uploaded in earlier runs; absent when nothing is remembered. */
  assets?: AssetPaths;
}

export interface GeneratedImage {
  /** Encoded image bytes (PNG, JPEG, WebP, …): they must decode as an image. */
  bytes: Uint8Array;
  /** The provider's own id for this generation, kept in the store's metadata. */
  recordId?: string;
  /** The origin of the API that made it (`https://api.1min.ai`, an emulator's), kept in the store's metadata. */
  origin?: string;
  /**
   * What the provider says this generation cost (a gateway's cost field), in `currency` (`USD`, or
   * the project's `currency`): it becomes the original's price as it is (docs/cost.md).
   */
  cost?: { amount: number; currency: string };
  /** The tokens the API reported for this generation: priced at the model's published rates when it has some. */
  usage?: TokenUsage;
}

/** Token usage of one generation, as image APIs report it (Gemini's `usageMetadata`, OpenAI's `usage`). */
export interface TokenUsage {
  /** Every input token: the prompt's text and any input images. */
  inputTokens: number;
  /** Of {@link inputTokens}, those of input images, where the API tells them apart. */
  inputImageTokens?: number;
  /** Every output token: the image, and any text or thinking. */
  outputTokens: number;
  /** Of {@link outputTokens}, those of the image, where the API tells them apart; absent, all are the image's. */
  outputImageTokens?: number;
}

/**
 * The one model a provider makes (an AI SDK model), known before any request: it names the model
 * of every key and says which aspect ratios are asked of the model rather than cropped.
 */
export interface ProviderModel {
  /** `<provider>:<modelId>`, e.g. `google:gemini-3-pro-image`: the `model` of every image it makes. */
  name: string;
  /** Aspect ratios the model makes natively, as it names them ("16:9", "21:9"): asked of it, and part of the key. */
  nativeAspects: readonly string[];
}

/**
 * A source of originals. Retries, timeouts and aborts are written once around this
 * interface (see `generateWithRetry`), not in each provider.
 */
export interface Provider {
  /** Short, stable name: `onemin`, `placeholder`, or your own. */
  id: string;
  /**
   * False for providers that make throwaway images (the placeholder): their output is never
   * written to the store or the lock.
   * @default true
   */
  persistent?: boolean;
  /**
   * The one model this provider makes, when it makes one (an AI SDK model): it becomes the `model`
   * of every image, and an image that names another model is an error.
   * @default undefined (the `model` option and each image's `model` are sent as they are)
   */
  model?: ProviderModel;
  /** The origin of the API it calls, when it calls one: recorded with each original it makes. */
  origin?: string;
  /** Resolves with the encoded bytes (a `Uint8Array` or a `Buffer`), or with `{ bytes, recordId? }`. */
  generate(request: GenerationRequest, context: GenerateContext): Promise<GeneratedImage | Uint8Array>;
}

/**
 * What a provider resolved with, as a `GeneratedImage`: raw bytes (`Uint8Array`, `Buffer`) or
 * `{ bytes }`. Anything else is the provider's mistake, named in one line and never retried.
 */
export function toGeneratedImage(value: unknown, providerId: string): GeneratedImage {
  if (value instanceof Uint8Array) return { bytes: value };
  if (typeof value === "object" && value !== null && (value as GeneratedImage).bytes instanceof Uint8Array) {
    const { bytes, recordId, origin, cost, usage } = value as GeneratedImage;
    return {
      bytes,
      ...(typeof recordId === "string" && { recordId }),
      ...(typeof origin === "string" && { origin }),
      ...(isCost(cost) && { cost }),
      ...(isUsage(usage) && { usage }),
    };
  }
  throw new ProviderError(
    `the provider "${providerId}" resolved with ${describeValue(value)}; generate() must resolve with a Uint8Array, a Buffer or { bytes: Uint8Array, recordId?: string }`,
    { retryable: false },
  );
}

const isCount = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;

/** A cost a provider reported, kept only when it is one: a price is never guessed from a malformed one. */
function isCost(value: unknown): value is GeneratedImage["cost"] {
  const cost = value as GeneratedImage["cost"];
  return typeof cost === "object" && cost !== null && Number.isFinite(cost.amount) && cost.amount >= 0 && typeof cost.currency === "string" && cost.currency !== "";
}

function isUsage(value: unknown): value is TokenUsage {
  const usage = value as TokenUsage;
  if (typeof usage !== "object" || usage === null || !isCount(usage.inputTokens) || !isCount(usage.outputTokens)) return false;
  return (
    (usage.inputImageTokens === undefined || (isCount(usage.inputImageTokens) && usage.inputImageTokens <= usage.inputTokens)) &&
    (usage.outputImageTokens === undefined || (isCount(usage.outputImageTokens) && usage.outputImageTokens <= usage.outputTokens))
  );
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const keys = Object.keys(value).slice(0, 4);
    return keys.length === 0 ? "an empty object" : `an object with ${keys.map((k) => JSON.stringify(k)).join(", ")}`;
  }
  return typeof value === "undefined" ? "undefined" : `a ${typeof value}`;
}

/**
 * A failure reported by a provider. `retryable` says whether trying again may help
 * (timeouts, connection errors, 408, 429, 5xx); `retryAfterMs` honours `Retry-After`.
 */
export class ProviderError extends Error {
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  /**
   * The API accepted the request but its answer could not be used (cut off, not JSON): the image
   * may exist and be charged. Never retryable, and it counts as spent.
   */
  readonly mayHaveBeenCharged: boolean;

  constructor(
    message: string,
    options: { retryable: boolean; status?: number; retryAfterMs?: number; mayHaveBeenCharged?: boolean; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.mayHaveBeenCharged = options.mayHaveBeenCharged === true;
    this.retryable = options.retryable && !this.mayHaveBeenCharged;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Thrown when every attempt failed; keeps each attempt's error. */
export class RetryError extends Error {
  readonly errors: unknown[];

  constructor(message: string, errors: unknown[]) {
    super(message, { cause: errors.at(-1) });
    this.name = "RetryError";
    this.errors = errors;
  }
}
