import { existsSync, readFileSync, statSync } from "node:fs";
import { readFile, readdir, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { isNotFound, writeFileAtomic } from "./atomic-write.js";
import { ImagegenError } from "../errors.js";
import { checkedWholeImage, decodeToLastRow, loadSharp } from "../sharp.js";
import { type OriginalFormat, extensionOf, isOriginalFormat } from "../spec/formats.js";
import { type FileLock, type FileLockOptions, acquireFileLock } from "./file-lock.js";
import { originalKey, sha256Hex, type OriginalKey } from "../spec/key.js";
import type { GeneratedImage } from "../generate/provider.js";
import { IMAGE_SIZES, type GenerationParams, type ImageSize } from "../spec/spec.js";
import { type InputRecord, inputRecords, inputRecordsProblem } from "./input-records.js";

/** What the store knows about one original; `<dir>/<key>.json`, beside its bytes. */
export interface OriginalMeta {
  key: OriginalKey;
  model: string;
  prompt: string;
  size: ImageSize;
  temperature: number;
  topP: number;
  variant: string;
  /** The aspect ratio asked of the model, where it made it natively (SPEC §14). */
  aspect?: string;
  /** Id of the provider that made it (`onemin`, or a custom one's). */
  provider: string;
  /** The provider's own id for the generation, when it gave one. */
  recordId?: string;
  /** sha256 hex of the bytes file. */
  sha256: string;
  /** Pixel size after EXIF orientation. */
  width: number;
  height: number;
  /** Decoded format: png, jpeg, webp, avif, gif or tiff. */
  format: string;
  bytes: number;
  /** Basename of the bytes file, `<key>.<ext>`. */
  file: string;
  /** ISO 8601. */
  createdAt: string;
  /** The files it was made from (SPEC §12), in request order; absent for a plain generation. */
  inputs?: InputRecord[];
}

const FIX = "delete it and run `imagegen generate`";

/** A store entry that cannot be used: unreadable metadata, or bytes that are missing or changed. */
export class DamagedOriginalError extends ImagegenError {
  readonly key: OriginalKey;
  /** What is wrong, without the advice: callers that know the lock say how to fix it. */
  readonly problem: string;
  constructor(key: OriginalKey, problem: string, advice: string, cause?: unknown) {
    super(`${problem}; ${advice}.`, { cause });
    this.name = "DamagedOriginalError";
    this.key = key;
    this.problem = problem;
  }
}

/**
 * Originals, stored once and never expired (SPEC §4): bytes in `<key>.<ext>`, metadata in
 * `<key>.json`. The metadata is written last, so its presence is what commits an entry;
 * checks that need only the pixel size or hash read the JSON, never the image.
 */
export class Store {
  readonly dir: string;
  /** Whether this instance's first lock found no store folder: one it made is removed again while empty. */
  #madeDir: boolean | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The metadata of `key`, or `undefined` when the store has no such original. */
  async readMeta(key: OriginalKey): Promise<OriginalMeta | undefined> {
    const file = this.metaPath(key);
    let text: string;
    try {
      // Synchronously, as the derived cache reads: a small JSON takes microseconds, while an async
      // read waits for one of libuv's four threads behind sharp (a cached module: 0.9 ms, floor 0.4).
      text = readFileSync(file, "utf8");
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new DamagedOriginalError(key, `${file} is not valid JSON (truncated or edited?)`, FIX, error);
    }
    const problem = metaProblem(value, key);
    if (problem) throw new DamagedOriginalError(key, `${file} is not valid store metadata (${problem})`, FIX);
    return value as OriginalMeta;
  }

  /**
   * Throws a {@link DamagedOriginalError} when the bytes file is missing or not of the size its
   * metadata records. A cheap check (no read) for every build; {@link readOriginal} checks the hash.
   */
  async checkOriginal(meta: OriginalMeta): Promise<void> {
    const file = join(this.dir, meta.file);
    let size: number;
    try {
      size = statSync(file).size;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      throw missingBytes(meta, file, this.metaPath(meta.key));
    }
    if (size !== meta.bytes) throw changedBytes(meta, file, this.metaPath(meta.key));
  }

  /** The bytes of an original, refused when they do not match the sha256 its metadata records. */
  async readOriginal(meta: OriginalMeta): Promise<Buffer> {
    const file = join(this.dir, meta.file);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      throw missingBytes(meta, file, this.metaPath(meta.key));
    }
    if (sha256Hex(bytes) !== meta.sha256) throw changedBytes(meta, file, this.metaPath(meta.key));
    return bytes;
  }

  /**
   * Takes the cross-process lock of one key (`.locks/<key>.lock`), so that two builds sharing the
   * store never generate the same original twice. Whoever gets it must look in the store again.
   */
  async lock(key: OriginalKey, options?: FileLockOptions): Promise<FileLock> {
    const dir = join(this.dir, ".locks");
    this.#madeDir ??= !existsSync(this.dir);
    const lock = await acquireFileLock(join(dir, `${key}.lock`), options);
    return {
      release: async () => {
        await lock.release();
        // Leave no empty folder behind (a failed generation stored nothing): each stays while
        // something is in it, another process's lock included.
        await rmdir(dir).catch(() => {});
        if (this.#madeDir) await rmdir(this.dir).catch(() => {});
      },
    };
  }

  /**
   * Stores a generated original. The bytes must decode as an image. Bytes are written first and
   * the metadata last, so a killed write leaves at most an orphan bytes file, never metadata
   * without its bytes.
   */
  async put(generation: GenerationParams, image: GeneratedImage, providerId: string): Promise<OriginalMeta> {
    const key = originalKey(generation);
    const bytes = Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength);
    const { format, width, height } = await decodeOriginal(image.bytes, providerId, generation.prompt);
    const file = `${key}.${extensionOf(format)}`;
    const inputs = inputRecords(generation);
    const previous = await this.readMeta(key).catch(() => undefined);

    const meta: OriginalMeta = {
      key,
      model: generation.model,
      prompt: generation.prompt,
      size: generation.size,
      temperature: generation.temperature,
      topP: generation.topP,
      variant: generation.variant,
      ...(generation.aspect !== undefined ? { aspect: generation.aspect } : {}),
      provider: providerId,
      ...(image.recordId !== undefined ? { recordId: image.recordId } : {}),
      sha256: sha256Hex(bytes),
      width,
      height,
      format,
      bytes: bytes.byteLength,
      file,
      createdAt: new Date().toISOString(),
      ...(inputs ? { inputs } : {}),
    };
    await writeFileAtomic(join(this.dir, file), bytes);
    await writeFileAtomic(this.metaPath(key), stableJson(meta));
    // A replaced original of another format would otherwise linger beside the new one.
    if (previous && previous.file !== file) await unlink(join(this.dir, previous.file)).catch(() => {});
    return meta;
  }

  /** Removes an original: the metadata first (un-committing it), then its bytes. */
  async delete(key: OriginalKey): Promise<void> {
    await unlink(this.metaPath(key)).catch(ignoreNotFound);
    for (const name of await this.names()) {
      if (name.startsWith(`${key}.`)) await unlink(join(this.dir, name)).catch(ignoreNotFound);
    }
  }

  /** Keys of every committed original (those with a metadata file). */
  async keys(): Promise<OriginalKey[]> {
    const keys: OriginalKey[] = [];
    for (const name of await this.names()) {
      const match = /^([0-9a-f]+)\.json$/.exec(name);
      if (match) keys.push(match[1]!);
    }
    return keys.sort();
  }

  private metaPath(key: OriginalKey): string {
    return join(this.dir, `${key}.json`);
  }

  private async names(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }
}

function missingBytes(meta: OriginalMeta, file: string, metaFile: string): DamagedOriginalError {
  return new DamagedOriginalError(
    meta.key,
    `${file} is missing but ${metaFile} refers to it`,
    "restore it (from git or your CI cache), or delete the .json and run `imagegen generate`",
  );
}

function changedBytes(meta: OriginalMeta, file: string, metaFile: string): DamagedOriginalError {
  return new DamagedOriginalError(
    meta.key,
    `${file} does not match the sha256 in ${metaFile} (changed or truncated)`,
    "restore it (from git or your CI cache), or delete both files and run `imagegen generate` to make a new image",
  );
}

/**
 * Decodes the image down to its last row (a header alone would accept a truncated download),
 * unless these very bytes already did so in this process (the onemin provider checks each download).
 */
async function decodeOriginal(
  bytes: Uint8Array,
  providerId: string,
  prompt: string,
): Promise<{ format: OriginalFormat; width: number; height: number }> {
  const refuse = (why: string, cause?: unknown) =>
    new ImagegenError(`Provider "${providerId}" returned ${why} for "${prompt}"; it was not stored.`, { cause });
  try {
    const checked = checkedWholeImage(bytes);
    const metadata = checked ?? (await (await loadSharp())(bytes).metadata());
    const format = metadata.format === "heif" && metadata.compression === "av1" ? "avif" : metadata.format;
    if (!isOriginalFormat(format)) throw refuse(`a ${format} file (expected PNG, JPEG, WebP, AVIF, GIF or TIFF)`);
    if (!checked) await decodeToLastRow(bytes, metadata);
    const { width, height } = metadata.autoOrient;
    return { format, width, height };
  } catch (error) {
    if (error instanceof ImagegenError) throw error;
    throw refuse(`${bytes.byteLength} bytes that do not decode as an image`, error);
  }
}

function metaProblem(value: unknown, key: OriginalKey): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not an object";
  const meta = value as Record<string, unknown>;
  if (meta.key !== key) return `"key" is not "${key}"`;
  for (const field of ["model", "prompt", "variant", "provider", "sha256", "format", "file", "createdAt"]) {
    if (typeof meta[field] !== "string") return `"${field}" is not a string`;
  }
  for (const field of ["temperature", "topP", "width", "height", "bytes"]) {
    if (typeof meta[field] !== "number") return `"${field}" is not a number`;
  }
  if (!IMAGE_SIZES.includes(meta.size as ImageSize)) return `"size" is not one of ${IMAGE_SIZES.join(", ")}`;
  if (meta.recordId !== undefined && typeof meta.recordId !== "string") return `"recordId" is not a string`;
  if (!/^[0-9a-f]{64}$/.test(meta.sha256 as string)) return `"sha256" is not 64 hex digits`;
  const inputs = inputRecordsProblem(meta.inputs);
  if (inputs) return `"inputs" ${inputs}`;
  // The file name is joined to the store folder: it must not point elsewhere.
  if (!new RegExp(`^${key}\\.[a-z0-9]+$`).test(meta.file as string)) return `"file" is not "${key}.<ext>"`;
  return undefined;
}

/** Pretty, key-sorted JSON with a trailing newline: reviewable diffs in git. */
function stableJson(value: object): string {
  const sorted = Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
