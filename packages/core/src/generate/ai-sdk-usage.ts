import type { AiSdkImageResult } from "./ai-sdk-model.js";
import type { GeneratedImage, TokenUsage } from "./provider.js";

/**
 * What a model's answer says it cost: a gateway's reported `cost` (dollars), and its token usage
 * with the split that prices it (Gemini's `usageMetadata` by modality, OpenAI's input image tokens).
 */
export function reportedCost(result: AiSdkImageResult): Pick<GeneratedImage, "cost" | "usage"> {
  const cost = gatewayCost(metadata(result, "gateway")?.["cost"]);
  const usage = geminiUsage(metadata(result, "google")?.["usageMetadata"]) ?? sdkUsage(result);
  return { ...(cost !== undefined && { cost: { amount: cost, currency: "USD" } }), ...(usage && { usage }) };
}

/** The AI SDK's gateway reports what a call cost in dollars, as a decimal string. */
function gatewayCost(value: unknown): number | undefined {
  const amount = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof amount === "number" && Number.isFinite(amount) && amount >= 0 ? amount : undefined;
}

/** Gemini's own counts: prompt and output tokens by modality, thinking apart (priced as text). */
function geminiUsage(value: unknown): TokenUsage | undefined {
  if (!isRecord(value)) return undefined;
  const prompt = count(value["promptTokenCount"]);
  const candidates = count(value["candidatesTokenCount"]);
  if (prompt === undefined || candidates === undefined) return undefined;
  const thoughts = count(value["thoughtsTokenCount"]) ?? 0;
  const inputImage = modalityTokens(value["promptTokensDetails"], "IMAGE");
  const outputImage = modalityTokens(value["candidatesTokensDetails"], "IMAGE");
  return {
    inputTokens: prompt,
    ...(inputImage !== undefined && { inputImageTokens: inputImage }),
    outputTokens: candidates + thoughts,
    ...(outputImage !== undefined && { outputImageTokens: outputImage }),
  };
}

/** The AI SDK's usage, with OpenAI's input image tokens (spread over the images of the call) summed back. */
function sdkUsage(result: AiSdkImageResult): TokenUsage | undefined {
  const input = count(result.usage?.inputTokens);
  const output = count(result.usage?.outputTokens);
  if (input === undefined || output === undefined) return undefined;
  const images = metadata(result, "openai")?.["images"];
  const imageTokens = Array.isArray(images) ? images.map((image) => (isRecord(image) ? count(image["imageTokens"]) : undefined)) : [];
  const inputImage = imageTokens.length > 0 && imageTokens.every((n) => n !== undefined) ? imageTokens.reduce((sum, n) => sum! + n!, 0) : undefined;
  return { inputTokens: input, ...(inputImage !== undefined && inputImage <= input && { inputImageTokens: inputImage }), outputTokens: output };
}

/** The tokens of one modality in Gemini's `[{ modality, tokenCount }]`; `undefined` without details. */
function modalityTokens(details: unknown, modality: string): number | undefined {
  if (!Array.isArray(details)) return undefined;
  return details.reduce((sum: number, detail) => sum + (isRecord(detail) && detail["modality"] === modality ? (count(detail["tokenCount"]) ?? 0) : 0), 0);
}

/** One provider's part of the answer's `providerMetadata`, when it is an object. */
function metadata(result: AiSdkImageResult, provider: string): Record<string, unknown> | undefined {
  const part = result.providerMetadata?.[provider];
  return isRecord(part) ? part : undefined;
}

function count(value: unknown): number | undefined {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
