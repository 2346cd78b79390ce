import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatorContext } from "./context.js";
import { encodeDownloadFault, isDownloadFault, type Fault, type GenerationFault } from "./faults.js";
import { type ErrorShape, answerSharedFault } from "./fault-answers.js";
import { sendError, sendJson } from "./http.js";
import { hashPromptObject, type PromptObject } from "./render.js";
import { checkFeatureRequest, EDITOR_TYPE, FEATURE_TYPE, MODEL } from "./validate.js";

const STATUS_MESSAGES: Record<number, string> = {
  400: "Bad request",
  401: "Invalid API key",
  402: "Insufficient credits",
  403: "Insufficient credits: please top up your account",
  404: "Not found",
  408: "Request timeout",
  429: "Too many requests, please slow down",
  500: "Internal server error",
  502: "Bad gateway",
  503: "Service temporarily unavailable",
  504: "Gateway timeout",
};

/** Answers `POST /api/features` once the body is read: auth, validation, then a fault or an image. */
export function answerFeatureRequest(
  context: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: { json: boolean; value: unknown },
): void {
  const refused = context.keyProblem(req);
  if (refused) return sendError(res, 401, refused);
  if (!body.json) return sendError(res, 400, "Request body is not valid JSON");
  const check = checkFeatureRequest(body.value, (path) => context.assets.has(path));
  if (!check.ok) return sendError(res, 400, check.message);

  // Faults stand for what goes wrong with a good request, so an invalid one consumes none.
  const promptObject = check.promptObject;
  const fault = context.faults.take(promptObject.prompt);
  if (fault !== undefined && !isDownloadFault(fault)) return answerFault(context, req, res, promptObject, fault);

  const generation = createGeneration(context, req, promptObject, fault);
  sendJson(res, 200, { aiRecord: { ...generation.record, temporaryUrl: generation.temporaryUrl } });
}

/** 1min.ai's errors are `{"message": …}` with the reason phrase of the status, and `Retry-After` as a header. */
const oneminError: ErrorShape = (status, message, retryAfter) => ({
  body: { message: message ?? STATUS_MESSAGES[status] ?? `Error ${status}` },
  ...(retryAfter === undefined ? {} : { headers: { "Retry-After": retryAfter } }),
});

function answerFault(
  context: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  promptObject: PromptObject,
  fault: GenerationFault,
): void {
  if (answerSharedFault(req, res, fault, oneminError, { aiRecord: { uuid: randomUUID(), status: "SUCCESS" } })) return;
  switch (fault.kind) {
    case "cut-answer": {
      const generation = createGeneration(context, req, promptObject, undefined);
      const text = JSON.stringify({ aiRecord: { ...generation.record, temporaryUrl: generation.temporaryUrl } });
      res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": String(Buffer.byteLength(text)) });
      res.write(text.slice(0, Math.floor(text.length / 2)), () => req.socket.destroy());
      return;
    }
    case "failed-record": {
      const { record } = createGeneration(context, req, promptObject, undefined);
      const message = fault.message ?? "Image generation failed";
      const aiRecordDetail = { ...record.aiRecordDetail, resultObject: [] };
      return sendJson(res, 200, { aiRecord: { ...record, status: "FAILED", errorMessage: message, aiRecordDetail } });
    }
    case "no-temporary-url":
      return sendJson(res, 200, { aiRecord: createGeneration(context, req, promptObject, undefined).record });
    case "top-level-temporary-url": {
      const { record, temporaryUrl } = createGeneration(context, req, promptObject, undefined);
      return sendJson(res, 200, { aiRecord: record, temporaryUrl });
    }
  }
}

/** A SUCCESS record in the documented shape, and the signed URL of its image on this emulator. */
function createGeneration(
  context: EmulatorContext,
  req: IncomingMessage,
  promptObject: PromptObject,
  downloadFault: Fault | undefined,
) {
  const rendered = context.take(promptObject);
  const hash = hashPromptObject(rendered);
  context.prompts.set(hash, rendered);
  const nonce = randomBytes(6).toString("hex");
  let fileId = `${hash}-${nonce}`;
  if (downloadFault !== undefined && isDownloadFault(downloadFault) && downloadFault.kind !== "download-url") {
    fileId += `.${encodeDownloadFault(downloadFault)}`;
  }
  const createdAt = new Date();
  const storagePath = `emulator/images/${createdAt.toISOString().slice(0, 10).replaceAll("-", "_")}_${nonce}.png`;
  const temporaryUrl =
    downloadFault?.kind === "download-url"
      ? downloadFault.url
      : `${context.publicUrl(req)}/files/${fileId}.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=${context.sign(fileId)}`;
  const record = {
    uuid: randomUUID(),
    userId: "emulator-user",
    teamId: "emulator-team",
    model: MODEL,
    type: promptObject.imageUrl === undefined ? FEATURE_TYPE : EDITOR_TYPE,
    status: "SUCCESS",
    createdAt: createdAt.toISOString(),
    aiRecordDetail: { promptObject, resultObject: [storagePath] as string[] },
  };
  return { record, temporaryUrl };
}
