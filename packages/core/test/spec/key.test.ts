import { describe, expect, it } from "vitest";
import { KEY_FORMAT_VERSION, originalKey, sha256Hex } from "../../src/spec/key.js";
import type { GenerationParams } from "../../src/spec/spec.js";

const base: GenerationParams = {
  model: "gemini-3-pro-image-preview",
  prompt: "a lighthouse at dawn",
  size: "2K",
  temperature: 1,
  topP: 0.95,
  variant: "",
};

describe("originalKey", () => {
  it("is 20 hex characters", () => {
    expect(originalKey(base)).toMatch(/^[0-9a-f]{20}$/);
    expect(KEY_FORMAT_VERSION).toBe(1);
  });

  it("does not depend on property order", () => {
    const reordered: GenerationParams = {
      variant: "",
      topP: 0.95,
      temperature: 1,
      size: "2K",
      prompt: "a lighthouse at dawn",
      model: "gemini-3-pro-image-preview",
    };
    expect(originalKey(reordered)).toBe(originalKey(base));
  });

  it("changes with each generation field", () => {
    const changed: GenerationParams[] = [
      { ...base, model: "other-model" },
      { ...base, prompt: "a lighthouse at dusk" },
      { ...base, size: "4K" },
      { ...base, temperature: 0.5 },
      { ...base, topP: 0.9 },
      { ...base, variant: "b" },
    ];
    const keys = new Set([originalKey(base), ...changed.map(originalKey)]);
    expect(keys.size).toBe(changed.length + 1);
  });

  it("is not changed by output parameters or other extra properties", () => {
    const withOutput = { ...base, widths: [640], formats: ["avif"], aspect: { width: 4, height: 3 } };
    expect(originalKey(withOutput)).toBe(originalKey(base));
  });

  it("is stable across releases (a changed value means every stored original goes missing)", () => {
    // Pinned: if this fails, the key format changed and KEY_FORMAT_VERSION needs a migration.
    expect(originalKey(base)).toBe(
      sha256Hex(
        '{"v":1,"model":"gemini-3-pro-image-preview","prompt":"a lighthouse at dawn","size":"2K","temperature":1,"topP":0.95,"variant":""}',
      ).slice(0, 20),
    );
  });
});

describe("the key of an AI SDK model's image (SPEC §14)", () => {
  const google: GenerationParams = { ...base, model: "google:gemini-3-pro-image", size: "1K" };

  it("names the model, so the same prompt on two models is two images", () => {
    expect(originalKey(google)).not.toBe(originalKey({ ...google, model: "openai:gpt-image-1.5" }));
    expect(originalKey(google)).not.toBe(originalKey({ ...google, model: "gemini-3-pro-image-preview" }));
  });

  it("includes an aspect asked of the model, and only then", () => {
    const wide = { ...google, aspect: "16:9" };
    expect(originalKey(wide)).not.toBe(originalKey(google));
    expect(originalKey(wide)).not.toBe(originalKey({ ...google, aspect: "9:16" }));
    expect(originalKey(wide)).toBe(
      sha256Hex(
        '{"v":1,"model":"google:gemini-3-pro-image","prompt":"a lighthouse at dawn","size":"1K","temperature":1,"topP":0.95,"variant":"","aspect":"16:9"}',
      ).slice(0, 20),
    );
  });

  it("keeps 1min.ai keys byte for byte (pinned from before AI SDK models)", () => {
    // Keys of existing locks: changing any of them would make every stored original "missing".
    expect(originalKey({ ...base, size: "1K" })).toBe(originalKey({ ...base, size: "1K", aspect: undefined }));
    expect(originalKey(base)).toBe("9df54d11e310135959db");
    expect(originalKey({ ...base, prompt: "a red fox, watercolor", size: "1K", variant: "b" })).toBe(
      sha256Hex('{"v":1,"model":"gemini-3-pro-image-preview","prompt":"a red fox, watercolor","size":"1K","temperature":1,"topP":0.95,"variant":"b"}').slice(0, 20),
    );
  });
});

describe("sha256Hex", () => {
  it("hashes bytes and strings alike", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(sha256Hex("abc"));
  });
});
