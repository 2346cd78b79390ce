import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, copyFixture } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";
import { type S3Server, startS3Server } from "../support/s3-server.js";
import { type ThrottledLink, startThrottledLink } from "../support/throttled-link.js";

// 4K originals on an ordinary link (issue 23): the API and the bucket are reached through one
// front on loopback that paces every byte through a shared budget, as a home line would.

const PROMPTS = Array.from({ length: 8 }, (_, i) => `a harbour at dawn, frame ${i + 1}`);
/**
 * The link: 24 MB/s shared, so that each 45 MB original takes longer to arrive (four at a time:
 * about 8 s) than timeoutMs allows a request, while its bytes never stop for that long.
 */
const BYTES_PER_SECOND = 24 * 1024 * 1024;
const TIMEOUT_MS = 5_000;
const REPORT_RSS = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "support", "report-peak-rss.mjs");

let emulator: Emulator;
let s3: S3Server;
let apiLink: ThrottledLink;
let s3Link: ThrottledLink;
beforeAll(async () => {
  // The API takes a moment to answer, as the real one does, and renders each image meanwhile.
  [emulator, s3] = await Promise.all([startEmulator({ apiKey: FAKE_API_KEY, grain: true, latencyMs: 1_000 }), startS3Server()]);
  [apiLink, s3Link] = await Promise.all([startThrottledLink(emulator.url, BYTES_PER_SECOND), startThrottledLink(s3.endpoint, BYTES_PER_SECOND)]);
});
afterAll(async () => {
  await Promise.all([apiLink?.close(), s3Link?.close()]);
  await Promise.all([emulator?.close(), s3?.close()]);
});

function peakRssMiB(stderr: string): number {
  const kib = Number(/^peak-rss-kib (\d+)$/m.exec(stderr)?.[1]);
  expect(kib).toBeGreaterThan(0);
  return kib / 1024;
}

describe("a slow link", () => {
  it("downloads eight 4K originals and pushes them, none timed out, none paid twice", { timeout: 300_000 }, async () => {
    const root = await copyFixture("reliability");
    await writeFile(path.join(root, "src", "main.js"), PROMPTS.map((prompt, i) => `import i${i} from "gen:${prompt}?size=4K&w=64&format=webp";\n`).join(""));
    await writeFile(path.join(root, "imagegen.config.mjs"), `export default { timeoutMs: ${TIMEOUT_MS}, retryDelayMs: 50 };\n`);
    const env = s3.env({ IMAGEGEN_REMOTE: `${s3.remote}/slow`, AWS_ENDPOINT_URL_S3: s3Link.url });
    emulator.reset();

    const generated = await runCli(["generate"], { cwd: root, apiUrl: apiLink.url, env: { ...env, IMAGEGEN_REMOTE_WRITE: "0" } });
    expect(generated.code, generated.stderr).toBe(0);
    expect(emulator.requests).toHaveLength(8);
    // Each download went through once: none stalled, none was retried, none paid again.
    expect(emulator.downloads).toHaveLength(8);
    expect(generated.stdout).toMatch(/^0 cached, 8 generated, 0 failed · 8 API requests/m);

    const pushed = await runCli(["push", "--json"], { cwd: root, apiUrl: apiLink.url, env });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ uploaded: 8, failed: 0 });
    const originals = (await s3.list(`team/site/slow/originals/`)).filter((key) => key.endsWith(".png"));
    expect(originals).toHaveLength(8);
    for (const key of originals) {
      const bytes = (await s3.read(key))!;
      expect(bytes.byteLength).toBeGreaterThan(30 * 1024 * 1024);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(path.basename(key, ".png"));
    }
    // What went over the link: every original once each way.
    expect(apiLink.bytes()).toBeGreaterThan(8 * 30 * 1024 * 1024);
  });

  it("pushes 300 originals holding only a few in memory at a time", { timeout: 300_000 }, async () => {
    const root = await copyFixture("reliability");
    // 300 originals of 2 MiB each, written as the store keeps them: 600 MiB in all.
    const store = path.join(root, ".imagegen");
    await mkdir(store, { recursive: true });
    const base = await sharp({ create: { width: 16, height: 16, channels: 3, background: "#357" } }).png().toBuffer();
    const lock: Record<string, unknown> = {};
    for (let i = 0; i < 300; i++) {
      // A PNG, then bytes a decoder never reads: 2 MiB, and a sha256 of its own.
      const bytes = Buffer.concat([base, Buffer.alloc(2 * 1024 * 1024 - base.length, `original ${i} `)]);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const key = createHash("sha256").update(`key ${i}`).digest("hex").slice(0, 20);
      const meta = { key, model: "gemini-3-pro-image-preview", prompt: `image ${i}`, size: "1K", temperature: 1, topP: 0.95, variant: "", provider: "onemin", sha256, width: 16, height: 16, format: "png", bytes: bytes.length, file: `${key}.png`, createdAt: new Date().toISOString() };
      await writeFile(path.join(store, `${key}.png`), bytes);
      await writeFile(path.join(store, `${key}.json`), JSON.stringify(meta));
      const { provider: _p, format: _f, bytes: _b, file: _file, createdAt: _c, key: _k, ...entry } = meta;
      lock[key] = entry;
    }
    await writeFile(path.join(root, "imagegen.lock.json"), JSON.stringify({ version: 1, images: lock }));

    const pushed = await runCli(["push", "--json"], { cwd: root, env: s3.env({ IMAGEGEN_REMOTE: `${s3.remote}/many` }), nodeArgs: ["--import", REPORT_RSS] });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ uploaded: 300, failed: 0 });
    expect(peakRssMiB(pushed.stderr)).toBeLessThan(512);
  });
});
