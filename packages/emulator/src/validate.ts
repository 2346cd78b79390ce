import { IMAGE_SIZES, type ImageSize, type PromptObject } from "./render.js";

export const FEATURE_TYPE = "IMAGE_GENERATOR";
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

/** Checks a `POST /api/features` body the way the documentation describes it. */
export function checkFeatureRequest(body: unknown): FeatureRequestCheck {
  const fail = (message: string): FeatureRequestCheck => ({ ok: false, message });
  if (!isObject(body)) return fail("Request body must be a JSON object");
  if (body["type"] !== FEATURE_TYPE) return fail(`type must be "${FEATURE_TYPE}" (got ${show(body["type"])})`);
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

  return { ok: true, promptObject: { prompt, imageSize: imageSize as ImageSize, temperature, topP } };
}

/** Only a missing field takes the default: an explicit null is a wrong value. */
function orDefault(value: unknown, fallback: unknown): unknown {
  return value === undefined ? fallback : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function inRange(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= min && value <= max;
}

function show(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
