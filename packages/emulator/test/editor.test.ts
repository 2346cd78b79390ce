import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/index.js";
import { KEY, postFeature } from "./client.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
beforeEach(() => emulator.reset());
afterAll(() => emulator.close());

const square = (colour: string) => sharp({ create: { width: 64, height: 64, channels: 3, background: colour } }).png().toBuffer();

async function upload(bytes: Buffer | undefined, options: { field?: string; key?: string | null } = {}): Promise<Response> {
  const form = new FormData();
  if (bytes) form.append(options.field ?? "asset", new Blob([bytes], { type: "image/png" }), "beach.png");
  const headers: Record<string, string> = options.key === null ? {} : { "API-KEY": options.key ?? KEY };
  return fetch(`${emulator.url}/api/assets`, { method: "POST", headers, body: form });
}

const editBody = (promptObject: Record<string, unknown>) => ({
  type: "IMAGE_EDITOR",
  model: "gemini-3-pro-image-preview",
  promptObject: { prompt: "make it stormy", imageSize: "1K", ...promptObject },
});

describe("the Asset API and IMAGE_EDITOR", () => {
  it("stores an upload and answers asset.key and fileContent.path as documented", async () => {
    const response = await upload(await square("#d22"));
    expect(response.status).toBe(200);
    const answer = await response.json();
    expect(answer.asset).toMatchObject({ fieldname: "asset", originalname: "beach.png", mimetype: "image/png", key: expect.stringMatching(/^images\/.+beach\.png$/) });
    expect(answer.fileContent).toMatchObject({ path: answer.asset.key, type: "png" });
    expect(emulator.uploads).toHaveLength(1);
    expect(emulator.uploads[0]!.headers["api-key"]).toBe("[redacted]");
    expect(emulator.uploads[0]!.body).toMatchObject({ name: "beach.png", type: "image/png", size: expect.any(Number) });
  });

  it.each([
    ["no API-KEY", () => upload(Buffer.from("x"), { key: null }), 401, /Missing API-KEY/],
    ["no asset field", () => upload(Buffer.from("x"), { field: "file" }), 400, /multipart field "asset"/],
    ["a JSON body", () => fetch(`${emulator.url}/api/assets`, { method: "POST", headers: { "API-KEY": KEY }, body: "{}" }), 400, /multipart/],
  ])("refuses an upload with %s", async (_, send, status, message) => {
    const response = await send();
    expect(response.status).toBe(status);
    expect((await response.json()).message).toMatch(message);
  });

  it("edits an uploaded image into an answer made from its pixels, with each reference inset", async () => {
    const red = (await (await upload(await square("#d22"))).json()).fileContent.path;
    const yellow = (await (await upload(await square("#ee2"))).json()).fileContent.path;
    const response = await postFeature(emulator.url, editBody({ imageUrl: red, referenceImage1: yellow }));
    expect(response.status).toBe(200);
    const { aiRecord } = await response.json();
    expect(aiRecord).toMatchObject({ type: "IMAGE_EDITOR", status: "SUCCESS" });
    const png = Buffer.from(await (await fetch(aiRecord.temporaryUrl)).arrayBuffer());
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([1024, 1024]);
    const at = (x: number, y: number) => [...data.subarray((y * 1024 + x) * 3, (y * 1024 + x) * 3 + 3)];
    const [r, g, b] = at(100, 100); // the edited image, lightly tinted
    expect(r! > 150 && g! < 100 && b! < 100).toBe(true);
    const [yr, yg, yb] = at(850, 800); // the reference's inset, lower right
    expect(yr! > 180 && yg! > 180 && yb! < 100).toBe(true);
  });

  it.each([
    ["an imageUrl it did not issue", { imageUrl: "images/never-uploaded.png" }, /promptObject\.imageUrl must be an asset path returned by POST \/api\/assets/],
    ["no imageUrl", {}, /promptObject\.imageUrl is required/],
    ["a reference it did not issue", { imageUrl: "ISSUED", referenceImage1: "https://example.com/a.png" }, /promptObject\.referenceImage1 must be an asset path/],
  ])("answers 400 for %s", async (_, promptObject, message) => {
    const issued = (await (await upload(await square("#d22"))).json()).fileContent.path;
    const fields = Object.fromEntries(Object.entries(promptObject).map(([k, v]) => [k, v === "ISSUED" ? issued : v]));
    const response = await postFeature(emulator.url, editBody(fields));
    expect(response.status).toBe(400);
    expect((await response.json()).message).toMatch(message);
  });

  it("refuses asset fields on IMAGE_GENERATOR", async () => {
    const response = await postFeature(emulator.url, { ...editBody({ imageUrl: "images/x.png" }), type: "IMAGE_GENERATOR" });
    expect(response.status).toBe(400);
    expect((await response.json()).message).toMatch(/promptObject\.imageUrl belongs to "IMAGE_EDITOR" requests/);
  });
});
