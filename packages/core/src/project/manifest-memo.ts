import { readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { type Manifest, MANIFEST_REVISION, parseManifest } from "../spec/manifest.js";
import { sha256Hex } from "../spec/key.js";

/**
 * {@link parseManifest}, remembered in `<cacheDir>/manifests/` by the manifest's path and text: a
 * warm build reads one JSON where it imported yaml and parsed the manifest (0.1 s for 200 images,
 * 0.4 s for 2,000). Only a manifest that parses is remembered, one memo per manifest file (the
 * last text); a memo that cannot be read or written is a miss, never an error.
 */
export function parseManifestRemembered(text: string, file: string, cacheDir: string): Manifest {
  const dir = path.join(cacheDir, "manifests");
  const prefix = sha256Hex(`${MANIFEST_REVISION}\0${file}`).slice(0, 16);
  const name = `${prefix}.${sha256Hex(text).slice(0, 32)}.json`;
  try {
    const memo = JSON.parse(readFileSync(path.join(dir, name), "utf8")) as Manifest;
    if (memo.file === file && Array.isArray(memo.images)) return memo;
  } catch {
    // Not remembered yet, or damaged: parse it.
  }
  const manifest = parseManifest(text, file);
  // Only what JSON gives back as it was (no undefined field, no NaN) is remembered.
  if (isPlainData(manifest)) remember(dir, prefix, name, JSON.stringify(manifest));
  return manifest;
}

function remember(dir: string, prefix: string, name: string, json: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    const temporary = path.join(dir, `${name}.${process.pid}.tmp`);
    writeFileSync(temporary, json);
    renameSync(temporary, path.join(dir, name));
    // The memos of this manifest's earlier texts go.
    for (const other of readdirSync(dir)) {
      if (other !== name && other.startsWith(`${prefix}.`) && other.endsWith(".json")) unlinkSync(path.join(dir, other));
    }
  } catch {
    // A read-only cache: the next build parses again.
  }
}

function isPlainData(value: unknown): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isPlainData);
  if (typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every((field) => field !== undefined && isPlainData(field));
}
