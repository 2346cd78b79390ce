/**
 * The part of the AI SDK's image model interface (`ImageModelV2`, `V3`, `V4` of `@ai-sdk/provider`)
 * that imagegen calls, written as structural types of its own so that core depends on no `@ai-sdk/*`
 * package: a model from `google.image(…)`, `openai.image(…)` or `fal.image(…)` fits them as it is.
 */

/** An input image of an edit (V3 and later `files`). */
export interface AiSdkImageFile {
  type: "file";
  /** `image/png`, `image/jpeg`, `image/webp`. */
  mediaType: string;
  data: Uint8Array;
}

/** What `doGenerate` is asked. */
export interface AiSdkImageCallOptions {
  prompt: string | undefined;
  n: number;
  /** `{width}x{height}` in pixels. */
  size: `${number}x${number}` | undefined;
  /** `{width}:{height}`. */
  aspectRatio: `${number}:${number}` | undefined;
  seed: number | undefined;
  /** V3 and later: images to edit or follow. */
  files?: ReadonlyArray<unknown> | undefined;
  mask?: unknown;
  /** Options of each provider, by provider name (`{ google: { imageConfig: … } }`). */
  providerOptions: Record<string, Record<string, unknown>>;
  abortSignal?: AbortSignal;
  headers?: Record<string, string | undefined>;
}

/** What `doGenerate` resolves with (only what imagegen reads). */
export interface AiSdkImageResult {
  /** Base64 strings or bytes; Gemini may return interim images before the final one. */
  images: ReadonlyArray<string> | ReadonlyArray<Uint8Array>;
  /** V3: whether an empty result may be retried; absent when the provider does not say. */
  isRetryable?: boolean;
  /** V3 `{ type: "unsupported", feature, details? }` or `{ type: "other", message }`; V2 `{ type: "unsupported-setting", setting }`. */
  warnings?: ReadonlyArray<unknown>;
  usage?: { inputTokens?: number | undefined; outputTokens?: number | undefined; totalTokens?: number | undefined };
  /** By provider name: Google's raw `usageMetadata`, OpenAI's per-image token details, a gateway's `cost`. */
  providerMetadata?: Record<string, unknown>;
}

/** An AI SDK image model: `provider: google.image("gemini-3-pro-image")`. */
export interface AiSdkImageModel {
  readonly specificationVersion: "v2" | "v3" | "v4";
  /** `google.generative-ai`, `openai.image`, `fal.image`, … */
  readonly provider: string;
  readonly modelId: string;
  /** V4: whether the model takes input images; `undefined` when unknown. */
  readonly supportsFileInputs?: PromiseLike<boolean | undefined> | boolean;
  doGenerate(options: AiSdkImageCallOptions): PromiseLike<AiSdkImageResult>;
}

const VERSIONS = new Set(["v2", "v3", "v4"]);

/** Whether a `provider` option is an AI SDK image model (rather than a `Provider` or a name). */
export function isAiSdkImageModel(value: unknown): value is AiSdkImageModel {
  if (typeof value !== "object" || value === null) return false;
  const model = value as Partial<AiSdkImageModel>;
  return (
    VERSIONS.has(model.specificationVersion as string) &&
    typeof model.provider === "string" &&
    typeof model.modelId === "string" &&
    typeof model.doGenerate === "function"
  );
}

/**
 * `<provider>:<modelId>`: the model as keys and the lock name it. The provider is the first part of
 * the AI SDK's name (`google.generative-ai` and `google.vertex.image` are both `google`), since the
 * transport that reaches a model is no part of a key (SPEC §4).
 */
export function aiSdkModelName(model: AiSdkImageModel): string {
  return `${model.provider.split(".")[0]}:${model.modelId}`;
}

/**
 * The environment variables AI SDK provider packages read their API keys from: their values are
 * redacted from every message imagegen writes, like `ONEMIN_API_KEY`'s.
 */
export const AI_SDK_KEY_VARIABLES = [
  "GOOGLE_GENERATIVE_AI_API_KEY",
  "GOOGLE_VERTEX_API_KEY",
  "OPENAI_API_KEY",
  "AZURE_API_KEY",
  "FAL_API_KEY",
  "FAL_KEY",
  "REPLICATE_API_TOKEN",
  "TOGETHER_AI_API_KEY",
  "FIREWORKS_API_KEY",
  "DEEPINFRA_API_KEY",
  "XAI_API_KEY",
  "LUMA_API_KEY",
  "BFL_API_KEY",
] as const;
