import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEmulator, type Emulator } from "@imagegen/emulator";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOneminProvider } from "../../src/generate/onemin.js";
import { ProviderError, type AssetPaths, type GenerationRequest } from "../../src/generate/provider.js";
import { sha256Hex } from "../../src/spec/key.js";
import type { InputImage, InputRole } from "../../src/spec/spec.js";

const KEY = "fake-key-edits-41c9";
let emulator: Emulator;
let dir: string;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: KEY });
  dir = await mkdtemp(path.join(tmpdir(), "imagegen-onemin-edits-"));
  await sharp({ create: { width: 32, height: 32, channels: 3, background: "#d22" } }).png().toFile(path.join(dir, "red.png"));
  await sharp({ create: { width: 32, height: 32, channels: 3, background: "#22d" } }).png().toFile(path.join(dir, "blue.png"));
  await sharp({ create: { width: 32, height: 32, channels: 3, background: "#2d2" } }).gif().toFile(path.join(dir, "green.gif"));
});
beforeEach(() => emulator.reset());
afterAll(async () => {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

async function input(role: InputRole, name: string): Promise<InputImage> {
  const file = path.join(dir, name);
  return { role, written: `./${name}`, file, path: name, sha256: sha256Hex(await readFile(file)) };
}

const request = (inputs: InputImage[], prompt = "make it stormy"): GenerationRequest => ({
  model: "gemini-3-pro-image-preview",
  prompt,
  size: "1K",
  temperature: 1,
  topP: 0.95,
  variant: "",
  inputs,
});

const promptObjects = () => emulator.requests.map((r) => (r.body as any).promptObject);
const signal = () => AbortSignal.timeout(20_000);

/** A store of asset paths in memory, counting what was asked of it. */
/** Asset paths remembered by sha256, for the emulator's origin unless `origin` says another. */
function memory(initial: Record<string, string> = {}, origin = new URL(emulator.url).origin): AssetPaths & { remembered: Record<string, string>; forgotten: string[] } {
  const remembered = { ...initial };
  const forgotten: string[] = [];
  return {
    remembered,
    forgotten,
    recall: async (sha256, asked) => (asked === origin ? remembered[sha256] : undefined),
    remember: async (sha256, asked, assetPath) => {
      expect(asked).toBe(new URL(emulator.url).origin);
      origin = asked;
      remembered[sha256] = assetPath;
    },
    forget: async (sha256) => {
      forgotten.push(sha256);
      delete remembered[sha256];
    },
  };
}

describe("onemin edits", () => {
  it("sends references alone with the first as imageUrl, the second as referenceImage1", async () => {
    const provider = createOneminProvider({ apiKey: KEY, apiUrl: emulator.url });
    await provider.generate(request([await input("ref", "red.png")], "one ref"), { signal: signal() });
    await provider.generate(request([await input("ref", "red.png"), await input("ref", "blue.png")], "two refs"), { signal: signal() });
    const [one, two] = promptObjects();
    expect(Object.keys(one).sort()).toEqual(["imageSize", "imageUrl", "prompt", "temperature", "topP"]);
    expect(two.imageUrl).toBe(one.imageUrl);
    expect(two.referenceImage1).toMatch(/blue\.png$/);
    expect(emulator.uploads).toHaveLength(2);
  });

  it("uploads a file once for concurrent requests, and converts a GIF to PNG", async () => {
    const provider = createOneminProvider({ apiKey: KEY, apiUrl: emulator.url });
    const green = await input("edit", "green.gif");
    await Promise.all(["a", "b", "c"].map((prompt) => provider.generate(request([green], prompt), { signal: signal() })));
    expect(emulator.uploads.map((u) => u.body)).toEqual([expect.objectContaining({ name: "green.png", type: "image/png" })]);
    expect(emulator.requests).toHaveLength(3);
  });

  it("reuses a remembered asset path, and uploads again once when the API refuses it", async () => {
    const red = await input("edit", "red.png");
    const first = memory();
    await createOneminProvider({ apiKey: KEY, apiUrl: emulator.url }).generate(request([red]), { signal: signal(), assets: first });
    expect(first.remembered[red.sha256!]).toMatch(/^images\/.*red\.png$/);

    emulator.reset();
    await createOneminProvider({ apiKey: KEY, apiUrl: emulator.url }).generate(request([red], "again"), { signal: signal(), assets: first });
    expect(emulator.uploads).toHaveLength(0);
    expect(promptObjects()[0].imageUrl).toBe(first.remembered[red.sha256!]);

    emulator.reset();
    const stale = memory({ [red.sha256!]: "images/expired_red.png" });
    await createOneminProvider({ apiKey: KEY, apiUrl: emulator.url }).generate(request([red], "expired"), { signal: signal(), assets: stale });
    expect(emulator.uploads).toHaveLength(1);
    expect(promptObjects().map((p) => p.imageUrl)).toEqual(["images/expired_red.png", stale.remembered[red.sha256!]]);
  });

  it("sends a remembered path only to the API that gave it, and forgets one that failed", async () => {
    const red = await input("edit", "red.png");
    // Remembered for another API (another account, the real one): never sent here.
    const elsewhere = memory({ [red.sha256!]: "images/theirs_red.png" }, "https://api.example.invalid");
    await createOneminProvider({ apiKey: KEY, apiUrl: emulator.url }).generate(request([red], "elsewhere"), { signal: signal(), assets: elsewhere });
    expect(emulator.uploads).toHaveLength(1);
    expect(promptObjects()[0].imageUrl).not.toBe("images/theirs_red.png");

    // A FAILED record for a remembered path: forgotten, uploaded again, sent once more.
    const known = elsewhere.remembered[red.sha256!]!;
    emulator.reset();
    const failed = memory({ [red.sha256!]: known });
    emulator.injectFault({ kind: "failed-record", match: "failing" });
    await createOneminProvider({ apiKey: KEY, apiUrl: emulator.url }).generate(request([red], "failing"), { signal: signal(), assets: failed });
    expect(failed.forgotten).toEqual([red.sha256]);
    expect(emulator.uploads).toHaveLength(1);
    expect(promptObjects().map((p) => p.imageUrl)).toEqual([known, failed.remembered[red.sha256!]]);

    // A 5xx: transient, so not sent again here (the caller retries), but the path is forgotten.
    emulator.reset();
    const flaky = memory({ [red.sha256!]: known });
    emulator.injectFault({ kind: "status", status: 503, match: "flaky" });
    const error = await createOneminProvider({ apiKey: KEY, apiUrl: emulator.url })
      .generate(request([red], "flaky"), { signal: signal(), assets: flaky })
      .catch((e: unknown) => e);
    expect((error as ProviderError).retryable).toBe(true);
    expect(flaky.forgotten).toEqual([red.sha256]);
    expect(emulator.uploads).toHaveLength(0);
  });

  it("refuses a file whose bytes changed since its key was computed", async () => {
    const copy = path.join(dir, "copy.png");
    await writeFile(copy, await readFile(path.join(dir, "red.png")));
    const changed = await input("edit", "copy.png");
    await writeFile(copy, await readFile(path.join(dir, "blue.png")));
    const error = await createOneminProvider({ apiKey: KEY, apiUrl: emulator.url })
      .generate(request([changed]), { signal: signal() })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as Error).message).toBe("edit copy.png changed while imagegen was running; run it again");
    expect(emulator.uploads).toHaveLength(0);
  });
});
