import type { ImageSize } from "../spec/spec.js";
import type { AiSdkImageCallOptions } from "./ai-sdk-model.js";

/** The call options that ask a model for one size at one aspect. */
export type ModelAsk = Pick<AiSdkImageCallOptions, "size" | "aspectRatio" | "providerOptions">;

/** What imagegen knows of a model: what it can be asked, and how (docs/providers.md shows the same table). */
export interface ModelTraits {
  /** The sizes it makes. */
  sizes: readonly ImageSize[];
  /** Aspect ratios it makes natively, as it names them; `aspect` is a crop for every other one. */
  aspects: readonly string[];
  /** The most input images one call takes: 0 for none, `undefined` when unknown (sent where the interface takes files). */
  maxInputs: number | undefined;
  /** Whether it can make a transparent background. */
  transparency: boolean;
  /** The options that ask for `size` at `aspect` (one of `aspects`, or `undefined` for the model's default). */
  ask(size: ImageSize, aspect: string | undefined): ModelAsk;
}

const GEMINI_ASPECTS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"];
const IMAGEN_ASPECTS = ["1:1", "3:4", "4:3", "9:16", "16:9"];

/** Gemini's size and aspect go in `imageConfig`, which the AI SDK's Gemini image model passes through. */
function askGemini(withImageSize: boolean): ModelTraits["ask"] {
  return (size, aspect) => ({
    size: undefined,
    aspectRatio: undefined,
    providerOptions: { google: { imageConfig: { ...(withImageSize && { imageSize: size }), ...(aspect && { aspectRatio: aspect }) } } },
  });
}

/** OpenAI's models take a pixel size per aspect and no aspect ratio. */
function askOpenAi(sizes: Record<string, `${number}x${number}`>): ModelTraits["ask"] {
  return (_size, aspect) => ({ size: sizes[aspect ?? "1:1"], aspectRatio: undefined, providerOptions: {} });
}

const FAMILIES: { provider: string; modelId: RegExp; traits: ModelTraits }[] = [
  {
    provider: "google",
    modelId: /^gemini-3(\.\d+)?-pro-image/,
    traits: { sizes: ["1K", "2K", "4K"], aspects: GEMINI_ASPECTS, maxInputs: 14, transparency: false, ask: askGemini(true) },
  },
  {
    provider: "google",
    modelId: /^gemini-3\.1-flash-image/,
    traits: {
      sizes: ["1K", "2K", "4K"],
      aspects: [...GEMINI_ASPECTS, "1:4", "4:1", "1:8", "8:1"],
      maxInputs: 14,
      transparency: false,
      ask: askGemini(true),
    },
  },
  {
    provider: "google",
    modelId: /^gemini-2\.5-flash-image/,
    traits: { sizes: ["1K"], aspects: GEMINI_ASPECTS, maxInputs: 3, transparency: false, ask: askGemini(false) },
  },
  {
    provider: "google",
    modelId: /^imagen-/,
    traits: {
      sizes: ["1K"],
      aspects: IMAGEN_ASPECTS,
      maxInputs: 0,
      transparency: false,
      ask: (_size, aspect) => ({ size: undefined, aspectRatio: aspect as `${number}:${number}` | undefined, providerOptions: {} }),
    },
  },
  {
    provider: "openai",
    modelId: /^gpt-image-/,
    traits: {
      sizes: ["1K"],
      aspects: ["1:1", "3:2", "2:3"],
      maxInputs: 16,
      transparency: true,
      ask: askOpenAi({ "1:1": "1024x1024", "3:2": "1536x1024", "2:3": "1024x1536" }),
    },
  },
  {
    provider: "openai",
    modelId: /^dall-e-3$/,
    traits: {
      sizes: ["1K"],
      aspects: ["1:1", "7:4", "4:7"],
      maxInputs: 0,
      transparency: false,
      ask: askOpenAi({ "1:1": "1024x1024", "7:4": "1792x1024", "4:7": "1024x1792" }),
    },
  },
  {
    provider: "openai",
    modelId: /^dall-e-2$/,
    traits: { sizes: ["1K"], aspects: ["1:1"], maxInputs: 0, transparency: false, ask: askOpenAi({ "1:1": "1024x1024" }) },
  },
];

/** A model imagegen has no row for: its own default size, `aspect` as a crop, inputs sent where the interface takes them. */
const UNKNOWN: ModelTraits = {
  sizes: ["1K"],
  aspects: [],
  maxInputs: undefined,
  transparency: false,
  ask: () => ({ size: undefined, aspectRatio: undefined, providerOptions: {} }),
};

/** The traits of `<provider>:<modelId>`; a model of no known family gets {@link UNKNOWN}'s. */
export function modelTraits(provider: string, modelId: string): ModelTraits & { known: boolean } {
  const family = FAMILIES.find((entry) => entry.provider === provider && entry.modelId.test(modelId));
  return { ...(family?.traits ?? UNKNOWN), known: family !== undefined };
}
