import type { ImageSize } from "../spec/spec.js";

// imagegen's own prices, in US dollars, for the models whose makers publish them. Keys name models as
// the store does (`<provider>:<modelId>`, SPEC §14): 1min.ai's `gemini-3-pro-image-preview` is not here,
// since 1min.ai sells it for credits at a price it does not document (give it one in `prices`).
//
// Sources, as recorded in December 2026 (prices change; a project's `prices` wins over these):
// - Google: ai.google.dev/gemini-api/docs/pricing (Gemini Developer API, paid tier, standard, not batch).
// - OpenAI: platform.openai.com/docs/pricing, "Image generation" and the image token prices.
// docs/cost.md shows the same figures; change both together.

/** Dollars per million tokens, by what the tokens are. */
export interface TokenRates {
  /** Prompt text (and, where `inputImage` is absent, input images too). */
  inputText: number;
  /** Input images (edits and references), where the maker prices them apart from text. */
  inputImage?: number;
  /** Text and thinking the model writes before or beside the image. */
  outputText?: number;
  /** The image itself. */
  outputImage: number;
}

/** Dollars per image: by size for Gemini, by aspect ratio (the pixel size asked) for OpenAI. */
export type ImagePrices = Partial<Record<ImageSize, number>> & { aspects?: Record<string, number> };

interface ModelPrices {
  provider: string;
  modelId: RegExp;
  tokens?: TokenRates;
  image: ImagePrices;
}

const MODELS: ModelPrices[] = [
  {
    // Nano Banana Pro: $120 per million image tokens, a 1K or 2K image being 1120 tokens and a 4K one 2000.
    provider: "google",
    modelId: /^gemini-3(\.\d+)?-pro-image/,
    tokens: { inputText: 2, outputText: 12, outputImage: 120 },
    image: { "1K": 0.134, "2K": 0.134, "4K": 0.24 },
  },
  {
    // Nano Banana 2: $60 per million image tokens (1120 at 1K, 1680 at 2K, 2520 at 4K).
    provider: "google",
    modelId: /^gemini-3\.1-flash-image/,
    tokens: { inputText: 0.5, outputText: 3, outputImage: 60 },
    image: { "1K": 0.067, "2K": 0.101, "4K": 0.151 },
  },
  {
    // Nano Banana: $30 per million image tokens, 1290 per image.
    provider: "google",
    modelId: /^gemini-2\.5-flash-image/,
    tokens: { inputText: 0.3, outputText: 2.5, outputImage: 30 },
    image: { "1K": 0.039 },
  },
  { provider: "google", modelId: /^imagen-4\.\d+-fast-generate/, image: { "1K": 0.02 } },
  { provider: "google", modelId: /^imagen-4\.\d+-ultra-generate/, image: { "1K": 0.06 } },
  { provider: "google", modelId: /^imagen-4\.\d+-generate/, image: { "1K": 0.04 } },
  {
    // imagegen asks for no quality, so the model's `auto` picks one: the estimate is the high-quality
    // price (an upper bound), while usage gives the real one.
    provider: "openai",
    modelId: /^gpt-image-1\.5/,
    tokens: { inputText: 5, inputImage: 8, outputImage: 32 },
    image: { aspects: { "1:1": 0.133, "3:2": 0.2, "2:3": 0.2 } },
  },
  {
    provider: "openai",
    modelId: /^gpt-image-1-mini/,
    tokens: { inputText: 2, inputImage: 2.5, outputImage: 8 },
    image: { aspects: { "1:1": 0.036, "3:2": 0.052, "2:3": 0.052 } },
  },
  {
    provider: "openai",
    modelId: /^gpt-image-1$/,
    tokens: { inputText: 5, inputImage: 10, outputImage: 40 },
    image: { aspects: { "1:1": 0.167, "3:2": 0.25, "2:3": 0.25 } },
  },
  // DALL·E at standard quality, the quality imagegen leaves it at.
  { provider: "openai", modelId: /^dall-e-3$/, image: { aspects: { "1:1": 0.04, "7:4": 0.08, "4:7": 0.08 } } },
  { provider: "openai", modelId: /^dall-e-2$/, image: { aspects: { "1:1": 0.02 } } },
];

function modelPrices(model: string): ModelPrices | undefined {
  const colon = model.indexOf(":");
  if (colon < 0) return undefined;
  const provider = model.slice(0, colon);
  const modelId = model.slice(colon + 1);
  return MODELS.find((entry) => entry.provider === provider && entry.modelId.test(modelId));
}

/** The published per-token rates of a model (`google:gemini-3-pro-image`), when it is priced by tokens. */
export function tokenRates(model: string): TokenRates | undefined {
  return modelPrices(model)?.tokens;
}

/** The published price in dollars of one image of a model at a size and (for OpenAI's models) an aspect ratio. */
export function tablePrice(model: string, size: ImageSize, aspect: string | undefined): number | undefined {
  const image = modelPrices(model)?.image;
  if (!image) return undefined;
  return image.aspects ? image.aspects[aspect ?? "1:1"] : image[size];
}
