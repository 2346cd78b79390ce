import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import sharp from "sharp";
import type { EmulatorContext } from "./context.js";
import { type ErrorShape, answerSharedFault } from "./fault-answers.js";
import type { GenerationFault } from "./faults.js";
import { sendJson } from "./http.js";
import { type OpenAiImageRequest, checkImagesRequest } from "./openai-validate.js";
import { captionOf, takeLabel } from "./render.js";
import { isObject } from "./values.js";

/** `POST /v1/images/generations` and `POST /v1/images/edits`, as `@ai-sdk/openai` calls them. */
export const OPENAI_IMAGES_PATH = /^\/v1\/images\/(generations|edits)$/;

/** OpenAI's error types and words by status. */
const OPENAI_STATUSES: Record<number, [type: string, code: string | null, message: string]> = {
  400: ["invalid_request_error", null, "Invalid request."],
  401: ["invalid_request_error", "invalid_api_key", "Incorrect API key provided."],
  403: ["invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported."],
  404: ["invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."],
  429: ["requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."],
  500: ["server_error", null, "The server had an error while processing your request. Sorry about that!"],
  502: ["server_error", null, "Bad gateway."],
  503: ["server_error", null, "The engine is currently overloaded, please try again later."],
};

/** OpenAI's error body, `{"error": {message, type, param, code}}`, with `Retry-After` as a header. */
const openAiError: ErrorShape = (status, message, retryAfter) => {
  const [type, code, said] = OPENAI_STATUSES[status] ?? ["server_error", null, `Error ${status}`];
  return {
    body: { error: { message: message ?? said, type, param: null, code } },
    ...(retryAfter === undefined ? {} : { headers: { "Retry-After": retryAfter } }),
  };
};

function sendOpenAiError(res: ServerResponse, status: number, message: string, param: string | null = null, code: string | null = null): void {
  const [type] = OPENAI_STATUSES[status] ?? ["invalid_request_error"];
  sendJson(res, status, { error: { message, type, param, code } });
}

/** The emulator's own figures: GPT Image output tokens by quality and size (`auto` counts as medium). */
const OUTPUT_TOKENS: Record<string, Record<string, number>> = {
  low: { "1024x1024": 272, "1024x1536": 408, "1536x1024": 400 },
  medium: { "1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568 },
  high: { "1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208 },
};
const INPUT_IMAGE_TOKENS = 388;

/**
 * Answers OpenAI's images API: `Authorization: Bearer`, the request as documented (JSON for
 * generations, multipart with `image`/`image[]` files for edits), then a fault or `data[].b64_json`
 * with the token `usage` GPT Image models report.
 */
export async function answerOpenAiImages(
  context: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  raw: Buffer,
  recorded: { body: unknown },
): Promise<void> {
  const kind = OPENAI_IMAGES_PATH.exec(url.pathname)![1] as "generations" | "edits";
  const authorization = req.headers.authorization ?? "";
  const key = /^Bearer (.+)$/.exec(authorization)?.[1]?.trim();
  if (key === undefined || key === "") {
    return sendOpenAiError(res, 401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
  }
  if (context.apiKeys.openai !== undefined && key !== context.apiKeys.openai) {
    return sendOpenAiError(res, 401, "Incorrect API key provided. You can find your API key in your account's API keys page.", null, "invalid_api_key");
  }
  const parsed = kind === "generations" ? parseJson(raw) : await parseMultipart(req, raw);
  if (typeof parsed === "string") return sendOpenAiError(res, 400, parsed);
  recorded.body = parsed.recorded;
  const check = checkImagesRequest(parsed.fields, kind);
  if (!check.ok) return sendOpenAiError(res, 400, check.message, check.param);
  const { request } = check;
  const images = parsed.images;
  if (kind === "edits") {
    if (images.length === 0) return sendOpenAiError(res, 400, "Missing required parameter: 'image'.", "image");
    if (images.length > request.model.maxEditImages) {
      return sendOpenAiError(res, 400, `${request.modelName} takes at most ${request.model.maxEditImages} images to edit (got ${images.length}).`, "image");
    }
    for (const image of images) {
      const format = await sharp(image).metadata().then((metadata) => metadata.format, () => undefined);
      if (format !== "png" && format !== "jpeg" && format !== "webp") {
        return sendOpenAiError(res, 400, "Invalid image file or mode for image: use a PNG, JPEG or WebP file.", "image");
      }
    }
  }

  // Faults stand for what goes wrong with a good request, so an invalid one consumes none.
  const fault = context.faults.take(request.prompt, "openai");
  if (fault === undefined) return sendJson(res, 200, await renderAnswer(context, request, images));
  if (answerSharedFault(req, res, fault as GenerationFault, openAiError, { created: 0, data: [{ b64_json: "iVBORw0KGgoAAAANSUhEUgAA" }] })) return;
  if (fault.kind === "no-image") return sendJson(res, 200, { created: Math.floor(Date.now() / 1000), data: [] });
}

async function renderAnswer(context: EmulatorContext, request: OpenAiImageRequest, inputs: Buffer[]) {
  const inputHashes = inputs.map((bytes) => createHash("sha256").update(bytes).digest("hex"));
  const [edit, ...references] = inputs;
  const asked = JSON.stringify(["openai", request.modelName, request.prompt, request.size, request.quality, request.background, inputHashes]);
  // The same request asked again gives other images, as the real model does.
  const take = context.takeOf(createHash("sha256").update(asked).digest("hex"));
  const data = [];
  for (let i = 0; i < request.n; i++) {
    const hash = createHash("sha256").update(`${asked}:${take}:${i}`).digest("hex");
    const what = `${edit ? "edit · " : ""}${request.size} · ${request.modelName}${takeLabel(take)}`;
    const bytes = await context.renderer.renderPicture({
      hash,
      width: request.width,
      height: request.height,
      caption: captionOf(request.prompt, what),
      format: request.outputFormat,
      ...(request.background === "transparent" && { transparent: true }),
      ...(edit && { edit, references }),
    });
    data.push({ b64_json: bytes.toString("base64"), ...(request.modelName === "dall-e-3" && { revised_prompt: request.prompt }) });
  }
  const common = { created: Math.floor(Date.now() / 1000), data };
  if (!request.model.gptImage) return common;
  const textTokens = Math.max(1, Math.ceil(request.prompt.length / 4));
  const imageTokens = inputs.length * INPUT_IMAGE_TOKENS;
  const quality = request.quality === "auto" ? "medium" : request.quality;
  const outputTokens = (OUTPUT_TOKENS[quality]?.[request.size] ?? 1056) * request.n;
  return {
    ...common,
    background: request.background,
    output_format: request.outputFormat,
    quality,
    size: request.size,
    usage: {
      input_tokens: textTokens + imageTokens,
      input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens },
      output_tokens: outputTokens,
      total_tokens: textTokens + imageTokens + outputTokens,
    },
  };
}

interface ParsedRequest {
  fields: Record<string, unknown>;
  images: Buffer[];
  /** What the emulator records of it: the fields, and each file's name, type, size and sha256 instead of its bytes. */
  recorded: unknown;
}

function parseJson(raw: Buffer): ParsedRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    return "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)";
  }
  if (!isObject(value)) return "The body of an images request must be a JSON object.";
  return { fields: value, images: [], recorded: value };
}

async function parseMultipart(req: IncomingMessage, raw: Buffer): Promise<ParsedRequest | string> {
  const contentType = req.headers["content-type"] ?? "";
  if (!contentType.startsWith("multipart/form-data")) return `Invalid Content-Type header (${contentType}), expected multipart/form-data.`;
  let form: FormData;
  try {
    // The platform's own multipart parser (undici), the one fetch uses.
    form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
  } catch {
    return "The multipart body could not be parsed.";
  }
  const fields: Record<string, unknown> = {};
  const recorded: Record<string, unknown> = {};
  const images: Buffer[] = [];
  const files: object[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === "string") {
      fields[name] = value;
      recorded[name] = value;
    } else if (name === "image" || name === "image[]") {
      const bytes = Buffer.from(await value.arrayBuffer());
      images.push(bytes);
      files.push({ name: value.name, type: value.type, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
      fields[name] = true;
    } else {
      fields[name] = true;
      recorded[name] = { name: value.name, type: value.type, size: value.size };
    }
  }
  return { fields, images, recorded: { ...recorded, image: files } };
}
