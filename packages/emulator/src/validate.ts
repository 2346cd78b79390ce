import { IMAGE_SIZES, type ImageSize, type PromptObject } from "./render.js";
import { inRange, isObject, show } from "./values.js";

export const FEATURE_TYPE = "IMAGE_GENERATOR";
/** The image editor of the same model: `imageUrl` and up to two references, all asset paths. */
export const EDITOR_TYPE = "IMAGE_EDITOR";
const FEATURE_TYPES = [FEATURE_TYPE, EDITOR_TYPE];
const ASSET_FIELDS = ["imageUrl", "referenceImage1", "referenceImage2"] as const;
export const MODEL = "gemini-3-pro-image-preview";

/** Defaults from the documentation's "Default" column. */
const DEFAULT_TEMPERATURE = 1.0;
const DEFAULT_TOP_P = 0.95;
/**
 * The documentation marks imageSize both "required" and "default 1K"; the emulator takes the
 * default, so a client that omits it still gets an image (a real client should always send it).
 */
const DEFAULT_IMAGE_SIZE: ImageSize = "1K";

export type FeatureRequestCheck = { ok: true; promptObject: PromptObject } | { ok: false; message: string };

/**
 * Checks a `POST /api/features` body the way the documentation describes it. `isAsset` says
 * whether a path is one this emulator's Asset API issued: an editor request may name no other.
 */
export function checkFeatureRequest(body: unknown, isAsset: (path: string) => boolean = () => false): FeatureRequestCheck {
  const fail = (message: string): FeatureRequestCheck => ({ ok: false, message });
  if (!isObject(body)) return fail("Request body must be a JSON object");
  if (!FEATURE_TYPES.includes(body["type"] as string)) {
    return fail(`type must be "${FEATURE_TYPE}" or "${EDITOR_TYPE}" (got ${show(body["type"])})`);
  }
  if (body["model"] !== MODEL) return fail(`model must be "${MODEL}" (got ${show(body["model"])})`);
  const promptObject = body["promptObject"];
  if (!isObject(promptObject)) return fail("promptObject is required and must be an object");

  const prompt = promptObject["prompt"];
  if (typeof prompt !== "string" || prompt.trim() === "") {
    return fail("promptObject.prompt is required and must be a non-empty string");
  }
  const imageSize = orDefault(promptObject["imageSize"], DEFAULT_IMAGE_SIZE);
  if (!(IMAGE_SIZES as readonly unknown[]).includes(imageSize)) {
    return fail(`promptObject.imageSize must be one of "1K", "2K" or "4K" (got ${show(imageSize)})`);
  }
  const temperature = orDefault(promptObject["temperature"], DEFAULT_TEMPERATURE);
  if (!inRange(temperature, 0, 2)) {
    return fail(`promptObject.temperature must be a number from 0.0 to 2.0 (got ${show(temperature)})`);
  }
  const topP = orDefault(promptObject["topP"], DEFAULT_TOP_P);
  if (!inRange(topP, 0, 1)) return fail(`promptObject.topP must be a number from 0.0 to 1.0 (got ${show(topP)})`);

  const checked: PromptObject = { prompt, imageSize: imageSize as ImageSize, temperature, topP };
  if (body["type"] !== EDITOR_TYPE) {
    const stray = ASSET_FIELDS.find((name) => promptObject[name] !== undefined);
    if (stray) return fail(`promptObject.${stray} belongs to "${EDITOR_TYPE}" requests, not "${FEATURE_TYPE}"`);
    return { ok: true, promptObject: checked };
  }
  if (promptObject["imageUrl"] === undefined) return fail("promptObject.imageUrl is required: the path of the image to edit, from POST /api/assets");
  if (promptObject["referenceImage2"] !== undefined && promptObject["referenceImage1"] === undefined) {
    return fail("promptObject.referenceImage2 is given without referenceImage1");
  }
  for (const name of ASSET_FIELDS) {
    const value = promptObject[name];
    if (value === undefined) continue;
    if (typeof value !== "string" || !isAsset(value)) {
      return fail(`promptObject.${name} must be an asset path returned by POST /api/assets (got ${show(value)})`);
    }
    checked[name] = value;
  }
  return { ok: true, promptObject: checked };
}

/** Only a missing field takes the default: an explicit null is a wrong value. */
function orDefault(value: unknown, fallback: unknown): unknown {
  return value === undefined ? fallback : value;
}
