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

describe("sha256Hex", () => {
  it("hashes bytes and strings alike", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(sha256Hex("abc"));
  });
});
