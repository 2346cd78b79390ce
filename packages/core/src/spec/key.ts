import { createHash } from "node:crypto";
import type { GenerationParams, InputImage } from "./spec.js";

/**
 * Bumped when what goes into a key changes, so that old keys are never read as new ones.
 * Changing it makes every original "missing": do it only with a migration.
 */
export const KEY_FORMAT_VERSION = 1;

/** 20 hex characters naming one original in the store and the lock. */
export type OriginalKey = string;

/**
 * The key of an original: a hash of exactly what decides the generation (SPEC §4).
 * The transport (1min.ai, the emulator, a relay) is not part of it, nor is any output parameter.
 */
export function originalKey(generation: GenerationParams): OriginalKey {
  // Built field by field so that the key does not depend on the caller's property order
  // and ignores any extra property an object may carry.
  const canonical = JSON.stringify({
    v: KEY_FORMAT_VERSION,
    model: generation.model,
    prompt: generation.prompt,
    size: generation.size,
    temperature: generation.temperature,
    topP: generation.topP,
    variant: generation.variant,
    // Only an aspect the model makes natively ("16:9") is asked, and keyed: every other key stays what it
    // was. An output aspect ({ width, height }) that a caller spreads in is no part of it.
    ...(typeof generation.aspect === "string" ? { aspect: generation.aspect } : {}),
    // Only images with inputs carry this field, so every other key stays what it was.
    ...(generation.inputs?.length ? { inputs: generation.inputs.map(inputKeyPart) } : {}),
  });
  return sha256Hex(canonical).slice(0, 20);
}

/** An input counts by its role and its bytes: renaming or moving the file keeps the key. */
function inputKeyPart(input: InputImage): string {
  if (input.sha256 === undefined) throw new Error(`The input ${input.file} was not hashed before its key was computed`);
  return `${input.role}:${input.sha256}`;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}
