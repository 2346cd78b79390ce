import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import sharp from "sharp";
import type { EmulatorContext } from "./context.js";
import { type ErrorShape, answerSharedFault, retryAfterSeconds } from "./fault-answers.js";
import type { GenerationFault } from "./faults.js";
import { sendJson } from "./http.js";
import { GEMINI_IMAGE_MODELS, geminiPixels, type GeminiImageModel } from "./google-models.js";
import { type GeminiImageRequest, checkGenerateContent } from "./google-validate.js";
import { captionOf, takeLabel } from "./render.js";
import { isObject } from "./values.js";

/** `/v1beta/models/{model}:generateContent` (and `/v1/`), as `@ai-sdk/google` calls it. */
export const GENERATE_CONTENT_PATH = /^\/v1(?:beta)?\/models\/([^/:]+):generateContent$/;

/** Google's status names by HTTP status, and what its API says with them. */
const GOOGLE_STATUSES: Record<number, [status: string, message: string]> = {
  400: ["INVALID_ARGUMENT", "Request contains an invalid argument."],
  401: ["UNAUTHENTICATED", "Request had invalid authentication credentials."],
  403: ["PERMISSION_DENIED", "The caller does not have permission."],
  404: ["NOT_FOUND", "Requested entity was not found."],
  408: ["DEADLINE_EXCEEDED", "The request timed out."],
  429: ["RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."],
  500: ["INTERNAL", "An internal error has occurred. Please retry."],
  502: ["UNAVAILABLE", "Bad gateway."],
  503: ["UNAVAILABLE", "The model is overloaded. Please try again later."],
  504: ["DEADLINE_EXCEEDED", "Deadline expired before operation could complete."],
};

/**
 * Google's error body: `{"error": {code, message, status}}`. A wait is said as Google says it, in a
 * `RetryInfo` detail (`retryDelay: "7s"`), not in a `Retry-After` header.
 */
const googleError: ErrorShape = (code, message, retryAfter) => {
  const [status, said] = GOOGLE_STATUSES[code] ?? ["UNKNOWN", `Error ${code}`];
  const details = retryAfter === undefined ? [] : [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfterSeconds(retryAfter)}s` }];
  return { body: { error: { code, message: message ?? said, status, ...(details.length > 0 && { details }) } } };
};

function sendGoogleError(res: ServerResponse, code: number, message: string): void {
  sendJson(res, code, googleError(code, message, undefined).body);
}

/**
 * Answers `generateContent` for a Gemini image model: the API key (`x-goog-api-key` header or
 * `key` query parameter), the request as documented, then a fault or the image as `inlineData`
 * (after an interim `thought` image for a thinking model) with its `usageMetadata`.
 */
export async function answerGenerateContent(
  context: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: { json: boolean; value: unknown },
): Promise<void> {
  const modelName = decodeURIComponent(GENERATE_CONTENT_PATH.exec(url.pathname)![1]!);
  const key = headerValue(req, "x-goog-api-key") ?? url.searchParams.get("key") ?? undefined;
  if (key === undefined || key.trim() === "") {
    return sendGoogleError(res, 403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
  }
  if (context.apiKeys.google !== undefined && key !== context.apiKeys.google) {
    return sendGoogleError(res, 400, "API key not valid. Please pass a valid API key.");
  }
  const model = GEMINI_IMAGE_MODELS[modelName];
  if (model === undefined) {
    return sendGoogleError(res, 404, `models/${modelName} is not found for API version v1beta, or is not supported for generateContent.`);
  }
  if (!body.json) return sendGoogleError(res, 400, "Invalid JSON payload received.");
  const check = checkGenerateContent(body.value, modelName, model);
  if (!check.ok) return sendGoogleError(res, 400, check.message);
  const { request } = check;
  for (const image of request.images) {
    const readable = await sharp(image.bytes).metadata().then(
      () => true,
      () => false,
    );
    if (!readable) return sendGoogleError(res, 400, "Unable to process input image. Please retry with an image the model can read.");
  }

  const answer = () => renderAnswer(context, modelName, model, request);
  // Faults stand for what goes wrong with a good request, so an invalid one consumes none.
  const fault = context.faults.take(request.prompt, "google");
  if (fault === undefined) return sendJson(res, 200, await answer());
  if (answerSharedFault(req, res, fault as GenerationFault, googleError, { candidates: [{ content: { role: "model", parts: [] } }] })) return;
  if (fault.kind === "no-image") {
    return sendJson(res, 200, {
      candidates: [{ content: { role: "model", parts: [{ text: "I can't make that image." }] }, finishReason: "IMAGE_SAFETY", index: 0 }],
      usageMetadata: usage(model, request, false, 0),
      modelVersion: modelName,
      responseId: randomBytes(12).toString("base64url"),
    });
  }
}

async function renderAnswer(context: EmulatorContext, modelName: string, model: GeminiImageModel, request: GeminiImageRequest) {
  const { width, height } = geminiPixels(model, request.size, request.aspectRatio);
  const asked = createHash("sha256")
    .update(JSON.stringify(["google", modelName, request.prompt, request.size, request.aspectRatio, request.temperature, request.topP]))
    .update(request.images.map((image) => createHash("sha256").update(image.bytes).digest("hex")).join(","))
    .digest("hex");
  // The same request asked again gives another image, as the real model does.
  const take = context.takeOf(asked);
  const hash = take === 0 ? asked : createHash("sha256").update(`${asked}:${take}`).digest("hex");
  const [edit, ...references] = request.images.map((image) => image.bytes);
  const what = `${request.images.length > 0 ? "edit · " : ""}${request.size} ${request.aspectRatio} · ${modelName}${takeLabel(take)}`;
  const picture = { hash, width, height, caption: captionOf(request.prompt, what), ...(edit && { edit, references }) };
  const final = await context.renderer.renderPicture(picture);
  const parts: object[] = request.withText ? [{ text: `Here is the image you asked for: ${request.prompt.slice(0, 80)}` }] : [];
  if (model.thinks) {
    // Gemini 3 shows its work: a draft before the answer, which a client must not take for the image.
    const draftHash = createHash("sha256").update(`draft:${hash}`).digest("hex");
    const draft = await context.renderer.renderPicture({ ...picture, hash: draftHash, width: Math.round(width / 4), height: Math.round(height / 4) });
    parts.push({ inlineData: { mimeType: "image/png", data: draft.toString("base64") }, thought: true });
  }
  parts.push({ inlineData: { mimeType: "image/png", data: final.toString("base64") }, ...(model.thinks && { thoughtSignature: randomBytes(24).toString("base64") }) });
  return {
    candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
    usageMetadata: usage(model, request, true, model.thinks ? DRAFT_TOKENS : 0),
    modelVersion: modelName,
    responseId: randomBytes(12).toString("base64url"),
  };
}

/** Tokens the emulator counts for a thinking model's draft image. */
const DRAFT_TOKENS = 258;

/** `usageMetadata` as Google reports it: prompt tokens (text, input images), output image tokens, thoughts. */
function usage(model: GeminiImageModel, request: GeminiImageRequest, withImage: boolean, thoughts: number) {
  const textTokens = Math.max(1, Math.ceil(request.prompt.length / 4));
  const imageTokens = request.images.length * model.inputImageTokens;
  const outputImage = withImage ? (model.outputTokens[request.size] ?? 0) : 0;
  const outputText = request.withText || !withImage ? 12 : 0;
  const candidates = outputImage + outputText;
  return {
    promptTokenCount: textTokens + imageTokens,
    candidatesTokenCount: candidates,
    ...(thoughts > 0 && { thoughtsTokenCount: thoughts }),
    totalTokenCount: textTokens + imageTokens + candidates + thoughts,
    promptTokensDetails: [{ modality: "TEXT", tokenCount: textTokens }, ...(imageTokens > 0 ? [{ modality: "IMAGE", tokenCount: imageTokens }] : [])],
    candidatesTokensDetails: [
      ...(outputText > 0 ? [{ modality: "TEXT", tokenCount: outputText }] : []),
      ...(outputImage > 0 ? [{ modality: "IMAGE", tokenCount: outputImage }] : []),
    ],
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A request body as the emulator records it: each `inlineData` as its type, size and sha256 instead of its base64. */
export function recordGoogleBody(value: unknown): unknown {
  if (!isObject(value) || !Array.isArray(value["contents"])) return value;
  const contents = value["contents"].map((content: unknown) => {
    if (!isObject(content) || !Array.isArray(content["parts"])) return content;
    const parts = content["parts"].map((part: unknown) => {
      if (!isObject(part) || !isObject(part["inlineData"]) || typeof part["inlineData"]["data"] !== "string") return part;
      const bytes = Buffer.from(part["inlineData"]["data"], "base64");
      const summary = { mimeType: part["inlineData"]["mimeType"], size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
      return { ...part, inlineData: summary };
    });
    return { ...content, parts };
  });
  return { ...value, contents };
}
