import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatorContext } from "./context.js";
import { recordHeaders, sendError, sendJson } from "./http.js";

/**
 * `POST /api/assets` as 1min.ai documents it: multipart/form-data with the file in the field
 * `asset` and an API-KEY header; answers the stored object (`asset.key`) and its file record
 * (`fileContent.path`), both the path that feature requests then name.
 */
export async function answerAssetUpload(context: EmulatorContext, req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
  const recorded = { method: "POST", path: req.url ?? "/api/assets", headers: recordHeaders(req.headers), body: undefined as unknown, at: Date.now() };
  context.uploads.push(recorded);
  const refused = context.keyProblem(req);
  if (refused) return sendError(res, 401, refused);
  const contentType = req.headers["content-type"] ?? "";
  if (!contentType.startsWith("multipart/form-data")) {
    return sendError(res, 400, `Content-Type must be multipart/form-data (got ${JSON.stringify(contentType)})`);
  }
  let file: ReturnType<FormData["get"]>;
  try {
    // The platform's own multipart parser (undici), the one fetch uses.
    file = (await new Response(raw, { headers: { "content-type": contentType } }).formData()).get("asset");
  } catch {
    return sendError(res, 400, "The multipart body could not be parsed");
  }
  if (file === null || typeof file === "string") return sendError(res, 400, "The file must be sent in the multipart field \"asset\"");
  const bytes = Buffer.from(await file.arrayBuffer());
  if (bytes.length === 0) return sendError(res, 400, "The uploaded file is empty");
  const name = file.name || "asset";
  const mimetype = file.type || "application/octet-stream";
  recorded.body = { name, type: mimetype, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };

  const now = new Date();
  const stamp = now.toISOString().replace(/[-:T]/g, "_").replace(/\..*$/, "");
  const assetPath = `images/${stamp}_${randomBytes(3).toString("hex")}_${name.replace(/[^A-Za-z0-9._-]/g, "_")}`;
  context.assets.set(assetPath, bytes);
  const extension = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase() ?? "";
  sendJson(res, 200, {
    asset: {
      fieldname: "asset",
      originalname: name,
      encoding: "7bit",
      mimetype,
      size: bytes.length,
      bucket: "emulator",
      key: assetPath,
      acl: "private",
      contentType: "application/octet-stream",
      storageClass: "STANDARD",
      location: `${context.publicUrl(req)}/assets/${assetPath}`,
    },
    fileContent: { uuid: randomUUID(), path: assetPath, type: extension, name: assetPath.slice("images/".length), createdAt: now.toISOString() },
  });
}
