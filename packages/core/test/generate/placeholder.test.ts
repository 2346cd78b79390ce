import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../../src/generate/provider.js";
import { createPlaceholderProvider } from "../../src/generate/placeholder.js";
import { SIZE_PIXELS } from "../../src/spec/spec.js";

const request: GenerationRequest = {
  model: "gemini-3-pro-image-preview",
  prompt: "a lighthouse at dawn",
  size: "1K",
  temperature: 1,
  topP: 0.95,
  variant: "",
};
const context = { signal: new AbortController().signal };

describe("createPlaceholderProvider", () => {
  const provider = createPlaceholderProvider();

  it("is the non-persistent provider named placeholder", () => {
    expect(provider.id).toBe("placeholder");
    expect(provider.persistent).toBe(false);
  });

  it.each(["1K", "2K", "4K"] as const)("makes a PNG of exactly the %s pixel size", async (size) => {
    const { bytes } = await provider.generate({ ...request, size }, context);
    const metadata = await sharp(bytes).metadata();
    expect(metadata).toMatchObject({ format: "png", width: SIZE_PIXELS[size], height: SIZE_PIXELS[size] });
  });

  it("is deterministic, and differs between prompts and variants", async () => {
    const [first, again, other, variant] = await Promise.all([
      provider.generate(request, context),
      provider.generate(request, context),
      provider.generate({ ...request, prompt: "a red fox" }, context),
      provider.generate({ ...request, variant: "b" }, context),
    ]);
    expect(Buffer.from(again.bytes).equals(first.bytes)).toBe(true);
    expect(Buffer.from(other.bytes).equals(first.bytes)).toBe(false);
    expect(Buffer.from(variant.bytes).equals(first.bytes)).toBe(false);
  });

  it("draws text over a plain background", async () => {
    const { bytes } = await provider.generate(request, context);
    const { channels } = await sharp(bytes).stats();
    expect(channels[0]!.stdev).toBeGreaterThan(1);
  });

  it.each([
    `<script>alert("x") & 'y'</script> ]]> <!-- -->`,
    "🦊 a fox 🏳️‍🌈 with a zero-width joiner",
    "夕暮れの灯台、水彩画、穏やかな海と柔らかな光に包まれた静かな港町の風景",
    "مرحبا بالعالم — שלום עולם — Привет, мир",
    "control \u0000\u0007\u001b characters and a lone \ud800 surrogate",
    "W".repeat(2000),
  ])("renders the prompt %#: %s", async (prompt) => {
    const { bytes } = await provider.generate({ ...request, prompt }, context);
    expect(await sharp(bytes).metadata()).toMatchObject({ format: "png", width: 1024, height: 1024 });
  });

  it("stops when its signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("build stopped"));
    await expect(provider.generate(request, { signal: controller.signal })).rejects.toThrow("build stopped");
  });
});
