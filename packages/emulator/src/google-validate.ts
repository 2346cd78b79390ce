import type { GeminiImageModel } from "./google-models.js";
import { IMAGE_SIZES, type ImageSize } from "./render.js";
import { inRange, isObject, show } from "./values.js";

/** An input image of a `generateContent` request, decoded from its `inlineData`. */
export interface GeminiInputImage {
  mimeType: string;
  bytes: Buffer;
}

/** A valid `generateContent` request of an image model, defaults applied. */
export interface GeminiImageRequest {
  /** The text parts of the request, joined: what faults match and the caption shows. */
  prompt: string;
  images: GeminiInputImage[];
  size: ImageSize;
  aspectRatio: string;
  temperature: number;
  topP: number;
  /** Whether a text part is asked for beside the image. */
  withText: boolean;
}

export type GeminiCheck = { ok: true; request: GeminiImageRequest } | { ok: false; message: string };

const REQUEST_FIELDS = new Set(["contents", "generationConfig", "safetySettings", "systemInstruction", "tools", "toolConfig", "cachedContent", "serviceTier"]);
const GENERATION_CONFIG_FIELDS = new Set([
  "stopSequences",
  "responseMimeType",
  "responseSchema",
  "responseJsonSchema",
  "responseModalities",
  "candidateCount",
  "maxOutputTokens",
  "temperature",
  "topP",
  "topK",
  "seed",
  "presencePenalty",
  "frequencyPenalty",
  "responseLogprobs",
  "logprobs",
  "thinkingConfig",
  "imageConfig",
  "mediaResolution",
]);
const IMAGE_CONFIG_FIELDS = new Set(["aspectRatio", "imageSize"]);
const PART_FIELDS = new Set(["text", "inlineData", "fileData", "thought", "thoughtSignature"]);
/** What Gemini image models take as input images. */
const INPUT_MIME_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"]);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Google's defaults for Gemini 3 Pro Image. */
const DEFAULT_TEMPERATURE = 1;
const DEFAULT_TOP_P = 0.95;

/**
 * Checks a `POST /v1beta/models/{model}:generateContent` body as Google's API reference describes
 * it, for an image model: `contents` with text and `inlineData` parts, and a `generationConfig`
 * whose `responseModalities` include `IMAGE` and whose `imageConfig` names an aspect ratio and
 * image size the model makes. Unknown fields are refused by name, as the API's JSON parser does.
 */
export function checkGenerateContent(body: unknown, modelName: string, model: GeminiImageModel): GeminiCheck {
  const fail = (message: string): GeminiCheck => ({ ok: false, message });
  if (!isObject(body)) return fail("Invalid JSON payload received. Expected an object.");
  const unknown = Object.keys(body).find((name) => !REQUEST_FIELDS.has(name));
  if (unknown !== undefined) return fail(unknownName(unknown));

  const contents = body["contents"];
  if (!Array.isArray(contents) || contents.length === 0) return fail("* GenerateContentRequest.contents: contents is not specified");
  const texts: string[] = [];
  const images: GeminiInputImage[] = [];
  for (const [i, content] of contents.entries()) {
    const where = `contents[${i}]`;
    if (!isObject(content)) return fail(`Invalid value at '${where}': expected a Content object`);
    if (content["role"] !== undefined && content["role"] !== "user" && content["role"] !== "model") {
      return fail(`Please use a valid role: user, model. (got ${show(content["role"])} at ${where}.role)`);
    }
    const parts = content["parts"];
    if (!Array.isArray(parts) || parts.length === 0) return fail(`* GenerateContentRequest.${where}.parts: contents.parts must not be empty.`);
    for (const [j, part] of parts.entries()) {
      const at = `${where}.parts[${j}]`;
      if (!isObject(part)) return fail(`Invalid value at '${at}': expected a Part object`);
      const stray = Object.keys(part).find((name) => !PART_FIELDS.has(name));
      if (stray !== undefined) return fail(unknownName(stray, at));
      if (typeof part["text"] === "string") {
        if (content["role"] !== "model") texts.push(part["text"]);
      } else if (part["inlineData"] !== undefined) {
        const inline = part["inlineData"];
        if (!isObject(inline) || typeof inline["mimeType"] !== "string" || typeof inline["data"] !== "string") {
          return fail(`Invalid value at '${at}.inline_data': mimeType and data are required`);
        }
        if (!INPUT_MIME_TYPES.has(inline["mimeType"])) {
          return fail(`Unsupported MIME type: ${inline["mimeType"]} at ${at}.inline_data; use image/png, image/jpeg, image/webp, image/heic or image/heif`);
        }
        if (!BASE64.test(inline["data"])) return fail(`Invalid value at '${at}.inline_data.data' (TYPE_BYTES), Base64 decoding failed`);
        images.push({ mimeType: inline["mimeType"], bytes: Buffer.from(inline["data"], "base64") });
      } else if (part["fileData"] !== undefined) {
        return fail(`${at}.file_data: this emulator has no Files API; send the image as inlineData`);
      } else {
        return fail(`Invalid value at '${at}': a part needs text or inlineData`);
      }
    }
  }
  const prompt = texts.join("\n").trim();
  if (prompt === "" && images.length === 0) return fail("* GenerateContentRequest.contents: the request has no text and no image");
  if (images.length > model.maxInputImages) {
    return fail(`${modelName} takes at most ${model.maxInputImages} input images (got ${images.length})`);
  }

  const config = body["generationConfig"] ?? {};
  if (!isObject(config)) return fail("Invalid value at 'generation_config': expected an object");
  const strayConfig = Object.keys(config).find((name) => !GENERATION_CONFIG_FIELDS.has(name));
  if (strayConfig !== undefined) return fail(unknownName(strayConfig, "generation_config"));
  const modalities = config["responseModalities"];
  if (!Array.isArray(modalities) || !modalities.includes("IMAGE")) {
    return fail(`${modelName} answers images: generationConfig.responseModalities must include "IMAGE" (got ${show(modalities)})`);
  }
  const badModality = modalities.find((value) => value !== "TEXT" && value !== "IMAGE");
  if (badModality !== undefined) return fail(`Invalid value at 'generation_config.response_modalities' (${show(badModality)}): use "TEXT" or "IMAGE"`);
  if (config["candidateCount"] !== undefined && config["candidateCount"] !== 1) {
    return fail(`Multiple candidates is not enabled for models/${modelName} (candidateCount ${show(config["candidateCount"])})`);
  }
  const temperature = config["temperature"] ?? DEFAULT_TEMPERATURE;
  if (!inRange(temperature, 0, 2)) return fail(`generation_config.temperature must be a number from 0.0 to 2.0 (got ${show(temperature)})`);
  const topP = config["topP"] ?? DEFAULT_TOP_P;
  if (!inRange(topP, 0, 1)) return fail(`generation_config.top_p must be a number from 0.0 to 1.0 (got ${show(topP)})`);

  const imageConfig = config["imageConfig"] ?? {};
  if (!isObject(imageConfig)) return fail("Invalid value at 'generation_config.image_config': expected an object");
  const strayImage = Object.keys(imageConfig).find((name) => !IMAGE_CONFIG_FIELDS.has(name));
  if (strayImage !== undefined) return fail(unknownName(strayImage, "generation_config.image_config"));
  const aspectRatio = imageConfig["aspectRatio"] ?? "1:1";
  if (typeof aspectRatio !== "string" || !Object.hasOwn(model.pixels, aspectRatio)) {
    return fail(`imageConfig.aspectRatio ${show(aspectRatio)} is not supported by ${modelName}; use one of ${Object.keys(model.pixels).join(", ")}`);
  }
  const size = imageConfig["imageSize"] ?? "1K";
  if (imageConfig["imageSize"] !== undefined && model.imageSizes.length === 0) {
    return fail(`imageConfig.imageSize is not supported by ${modelName}: it makes 1K images only`);
  }
  if (!(IMAGE_SIZES as readonly unknown[]).includes(size) || (model.imageSizes.length > 0 && !model.imageSizes.includes(size as ImageSize))) {
    return fail(`imageConfig.imageSize ${show(size)} is not supported by ${modelName}; use one of ${model.imageSizes.join(", ")}`);
  }
  return {
    ok: true,
    request: { prompt, images, size: size as ImageSize, aspectRatio, temperature, topP, withText: modalities.includes("TEXT") },
  };
}

function unknownName(name: string, where?: string): string {
  return `Invalid JSON payload received. Unknown name ${JSON.stringify(name)}${where ? ` at '${where}'` : ""}: Cannot find field.`;
}
