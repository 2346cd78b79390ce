import { inRange, show } from "./values.js";

/** What the emulator knows of one OpenAI image model, as OpenAI's API reference documents it. */
export interface OpenAiImageModel {
  sizes: readonly string[];
  /** The size `auto` (or no size) makes. */
  defaultSize: string;
  qualities: readonly string[];
  /** The most images of one generation request. */
  maxImages: number;
  /** The most input images of an edit; 0 for a model without edits. */
  maxEditImages: number;
  maxPromptLength: number;
  /** GPT Image models: always base64, `background`, `output_format`, token `usage`; DALL·E: `response_format`. */
  gptImage: boolean;
}

const GPT_IMAGE: OpenAiImageModel = {
  sizes: ["1024x1024", "1536x1024", "1024x1536", "auto"],
  defaultSize: "1024x1024",
  qualities: ["low", "medium", "high", "auto"],
  maxImages: 10,
  maxEditImages: 16,
  maxPromptLength: 32000,
  gptImage: true,
};

export const OPENAI_IMAGE_MODELS: Readonly<Record<string, OpenAiImageModel>> = {
  "gpt-image-1": GPT_IMAGE,
  "gpt-image-1-mini": GPT_IMAGE,
  "gpt-image-1.5": GPT_IMAGE,
  "dall-e-3": {
    sizes: ["1024x1024", "1792x1024", "1024x1792"],
    defaultSize: "1024x1024",
    qualities: ["standard", "hd"],
    maxImages: 1,
    maxEditImages: 0,
    maxPromptLength: 4000,
    gptImage: false,
  },
  "dall-e-2": {
    sizes: ["256x256", "512x512", "1024x1024"],
    defaultSize: "1024x1024",
    qualities: ["standard"],
    maxImages: 10,
    maxEditImages: 1,
    maxPromptLength: 1000,
    gptImage: false,
  },
};

/** A valid images request, defaults applied. */
export interface OpenAiImageRequest {
  modelName: string;
  model: OpenAiImageModel;
  prompt: string;
  n: number;
  width: number;
  height: number;
  /** As the answer reports it: `1024x1024`. */
  size: string;
  quality: string;
  background: "opaque" | "transparent";
  outputFormat: "png" | "jpeg" | "webp";
}

/** A refused request: the message, and the parameter it names (OpenAI's `param`). */
export type OpenAiCheck = { ok: true; request: OpenAiImageRequest } | { ok: false; message: string; param: string | null };

const GENERATION_FIELDS = new Set([
  "model",
  "prompt",
  "n",
  "size",
  "quality",
  "style",
  "background",
  "moderation",
  "output_format",
  "output_compression",
  "response_format",
  "user",
  "safety_identifier",
]);
const EDIT_FIELDS = new Set(["model", "prompt", "image", "image[]", "mask", "n", "size", "quality", "background", "output_format", "output_compression", "input_fidelity", "user"]);

/**
 * Checks the fields of `POST /v1/images/generations` (JSON) or `POST /v1/images/edits` (multipart,
 * its text fields as strings) as OpenAI's API reference describes them; unknown parameters are
 * refused by name, as the API does.
 */
export function checkImagesRequest(fields: Record<string, unknown>, kind: "generations" | "edits"): OpenAiCheck {
  const fail = (message: string, param: string | null): OpenAiCheck => ({ ok: false, message, param });
  const known = kind === "generations" ? GENERATION_FIELDS : EDIT_FIELDS;
  const unknown = Object.keys(fields).find((name) => !known.has(name));
  if (unknown !== undefined) return fail(`Unknown parameter: '${unknown}'.`, unknown);

  const modelName = fields["model"] ?? "dall-e-2";
  const model = typeof modelName === "string" ? OPENAI_IMAGE_MODELS[modelName] : undefined;
  if (model === undefined) return fail(`Invalid value: ${show(modelName)}. Supported models: ${Object.keys(OPENAI_IMAGE_MODELS).join(", ")}.`, "model");
  if (kind === "edits" && model.maxEditImages === 0) return fail(`${modelName} does not support image edits.`, "model");
  const prompt = fields["prompt"];
  if (typeof prompt !== "string" || prompt.trim() === "") return fail("Missing required parameter: 'prompt'.", "prompt");
  if (prompt.length > model.maxPromptLength) {
    return fail(`Invalid 'prompt': string too long. Expected a string with maximum length ${model.maxPromptLength}.`, "prompt");
  }
  const n = number(fields["n"] ?? 1);
  if (!Number.isInteger(n) || !inRange(n, 1, model.maxImages)) {
    return fail(`Invalid 'n': ${modelName} makes from 1 to ${model.maxImages} images per request (got ${show(fields["n"])}).`, "n");
  }
  const sizeField = fields["size"] ?? "auto";
  const size = sizeField === "auto" ? model.defaultSize : sizeField;
  if (typeof size !== "string" || (!model.sizes.includes(size) && sizeField !== "auto")) {
    return fail(`Invalid value: ${show(sizeField)}. Supported values are: ${model.sizes.map((s) => `'${s}'`).join(", ")}.`, "size");
  }
  const quality = fields["quality"] ?? (model.gptImage ? "auto" : "standard");
  if (typeof quality !== "string" || !model.qualities.includes(quality)) {
    return fail(`Invalid value: ${show(quality)}. Supported values are: ${model.qualities.map((q) => `'${q}'`).join(", ")}.`, "quality");
  }
  if (model.gptImage && fields["response_format"] !== undefined) {
    return fail(`Unknown parameter: 'response_format'. ${modelName} always answers b64_json.`, "response_format");
  }
  if (!model.gptImage && fields["response_format"] !== undefined && fields["response_format"] !== "b64_json" && fields["response_format"] !== "url") {
    return fail(`Invalid value: ${show(fields["response_format"])}. Supported values are: 'url' and 'b64_json'.`, "response_format");
  }
  if (!model.gptImage && fields["response_format"] !== "b64_json") {
    return fail("This emulator answers DALL·E requests only with response_format 'b64_json' (it serves no image URLs).", "response_format");
  }
  for (const name of ["background", "output_format", "output_compression", "moderation", "input_fidelity"]) {
    if (!model.gptImage && fields[name] !== undefined) return fail(`Unknown parameter: '${name}'. It is a GPT Image parameter.`, name);
  }
  const background = fields["background"] ?? "auto";
  if (background !== "auto" && background !== "opaque" && background !== "transparent") {
    return fail(`Invalid value: ${show(background)}. Supported values are: 'transparent', 'opaque' and 'auto'.`, "background");
  }
  const outputFormat = fields["output_format"] ?? "png";
  if (outputFormat !== "png" && outputFormat !== "jpeg" && outputFormat !== "webp") {
    return fail(`Invalid value: ${show(outputFormat)}. Supported values are: 'png', 'jpeg' and 'webp'.`, "output_format");
  }
  if (background === "transparent" && outputFormat === "jpeg") {
    return fail("Transparent background is not supported for the jpeg output format; use png or webp.", "background");
  }
  const [width, height] = size.split("x").map(Number) as [number, number];
  return {
    ok: true,
    request: {
      modelName: modelName as string,
      model,
      prompt,
      n,
      width,
      height,
      size,
      quality,
      background: background === "transparent" ? "transparent" : "opaque",
      outputFormat,
    },
  };
}

/** A multipart field arrives as text: `"2"` counts as 2. */
function number(value: unknown): number {
  return typeof value === "string" && value.trim() !== "" ? Number(value) : (value as number);
}
