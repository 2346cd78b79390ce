import { createHash } from "node:crypto";
import { type Stats, createReadStream, existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { readFile, readdir, rmdir, unlink } from "node:fs/promises";
import { basename, join } from "node:path";
import { isNotFound, writeFileAtomic } from "./atomic-write.js";
import { ImagegenError } from "../errors.js";
import { checkedWholeImage, checkWholeImage, loadSharp } from "../sharp.js";
import { type OriginalFormat, extensionOf, isOriginalFormat } from "../spec/formats.js";
import { type FileLock, type FileLockOptions, acquireFileLock } from "./file-lock.js";
import { originalKey, sha256Hex, type OriginalKey } from "../spec/key.js";
import type { GeneratedImage } from "../generate/provider.js";
import { IMAGE_SIZES, type GenerationFields, type GenerationParams, type ImageSize, generationFields } from "../spec/spec.js";
import { type InputRecord, inputRecords, inputRecordsProblem } from "./input-records.js";
import type { ReadMemo } from "./read-memo.js";
import { type Price, priceProblem } from "../cost/price.js";

/** What the store knows about one original; `<dir>/<key>.json`, beside its bytes. */
export interface OriginalMeta extends GenerationFields {
  key: OriginalKey;
  /** Id of the provider that made it (`onemin`, or a custom one's). */
  provider: string;
  /** The provider's own id for the generation, when it gave one. */
  recordId?: string;
  /** The origin of the API that made it (`https://api.1min.ai`), when the provider named one. */
  origin?: string;
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
  /**
   * When a person last chose this candidate (ISO 8601): of a key's candidates, the one chosen last
   * (else made last) is the one a build takes when the lock pins none. Absent until chosen.
   */
  chosenAt?: string;
  /** The files it was made from (SPEC §12), in request order; absent for a plain generation. */
  inputs?: InputRecord[];
  /** What it cost when it was made (SPEC §14, docs/cost.md); absent when nobody knew: shown as unknown, never 0. */
  price?: Price;
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
 * Originals, stored once and never expired (SPEC §4). Every original made for a key is kept, as
 * one of its candidates: the first in `<key>.<ext>` with its metadata in `<key>.json` (the layout
 * of a store with one original per key), each later one in `<key>.<sha16>.<ext>` and
 * `<key>.<sha16>.json`, named by the first 16 hex digits of its sha256. The metadata is written
 * last, so its presence is what commits an entry; checks that need only the pixel size or hash
 * read the JSON, never the image.
 */
export class Store {
  readonly dir: string;
  /** Whether this instance's first lock found no store folder: one it made is removed again while empty. */
  #madeDir: boolean | undefined;
  readonly #memo: ReadMemo | undefined;

  /** With a `memo`, metadata files that have not changed since a build read them are not read again (a `stat` tells). */
  constructor(dir: string, { memo }: { memo?: ReadMemo } = {}) {
    this.dir = dir;
    this.#memo = memo;
  }

  /**
   * The metadata of the candidate of `key` whose bytes hash to `sha256`; without `sha256`, of the
   * candidate chosen (else made) last. `undefined` when the store has no such original.
   */
  async readMeta(key: OriginalKey, sha256?: string): Promise<OriginalMeta | undefined> {
    const first = this.#readMetaFile(key, this.metaPath(key));
    if (sha256 !== undefined && first?.sha256 === sha256) return first;
    const others = this.#otherCandidateFiles(key);
    if (sha256 !== undefined) {
      const file = others.find((name) => sha256.startsWith(name.slice(key.length + 1, -".json".length)));
      const meta = file ? this.#readMetaFile(key, join(this.dir, file)) : undefined;
      return meta?.sha256 === sha256 ? meta : undefined;
    }
    if (others.length === 0) return first;
    return latestChosen([first, ...others.map((name) => this.#readMetaFile(key, join(this.dir, name)))]);
  }

  /** Every candidate of `key` (SPEC §13), oldest first; damaged metadata throws, as for {@link readMeta}. */
  async candidates(key: OriginalKey): Promise<OriginalMeta[]> {
    const metas = [this.metaPath(key), ...this.#otherCandidateFiles(key).map((name) => join(this.dir, name))]
      .map((file) => this.#readMetaFile(key, file))
      .filter((meta): meta is OriginalMeta => meta !== undefined);
    return metas.sort((a, b) => compareText(a.createdAt, b.createdAt));
  }

  /**
   * Records that a person chose this candidate (its `chosenAt`), so that it is the one taken when the
   * lock pins none: a rewrite of its metadata alone, atomic like every write.
   */
  async markChosen(meta: OriginalMeta, at = new Date()): Promise<OriginalMeta> {
    const chosen = { ...meta, chosenAt: at.toISOString() };
    await writeFileAtomic(join(this.dir, metaFileOf(chosen)), stableJson(chosen));
    return chosen;
  }

  /** The later candidates' metadata files of `key` (`<key>.<sha16>.json`); sync for the reason {@link readMeta} is. */
  #otherCandidateFiles(key: OriginalKey): string[] {
    const names = this.#namesSync();
    const pattern = new RegExp(`^${key}\\.[0-9a-f]{16}\\.json$`);
    return names.filter((name) => pattern.test(name));
  }

  #namesSync(): string[] {
    try {
      return readdirSync(this.dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  #readMetaFile(key: OriginalKey, file: string): OriginalMeta | undefined {
    if (!this.#memo) return this.#parseMetaFile(key, file);
    let stats: Stats;
    try {
      // Before the read: a change made after it shows in the next build's stat.
      stats = statSync(file);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const known = this.#memo.meta(file, stats);
    if (known) return known;
    const meta = this.#parseMetaFile(key, file);
    if (meta) this.#memo.rememberMeta(file, stats, meta);
    return meta;
  }

  #parseMetaFile(key: OriginalKey, file: string): OriginalMeta | undefined {
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
    const problem = metaProblem(value, key, basename(file));
    if (problem) throw new DamagedOriginalError(key, `${file} is not valid store metadata (${problem})`, FIX);
    return value as OriginalMeta;
  }

  /**
   * Throws a {@link DamagedOriginalError} when the bytes file is missing or not of the size its
   * metadata records. A cheap check (no read) for every build; {@link readOriginal} checks the hash.
   */
  async checkOriginal(meta: OriginalMeta): Promise<void> {
    const file = this.originalFile(meta);
    let size: number;
    try {
      size = statSync(file).size;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      throw missingBytes(meta, file, join(this.dir, metaFileOf(meta)));
    }
    if (size !== meta.bytes) throw changedBytes(meta, file, join(this.dir, metaFileOf(meta)));
  }

  /** Where the bytes of an original are (they may be missing or changed: {@link readOriginal} checks). */
  originalFile(meta: OriginalMeta): string {
    return join(this.dir, meta.file);
  }

  /** The bytes of an original, refused when they do not match the sha256 its metadata records. */
  async readOriginal(meta: OriginalMeta): Promise<Buffer> {
    const file = this.originalFile(meta);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      throw missingBytes(meta, file, join(this.dir, metaFileOf(meta)));
    }
    if (sha256Hex(bytes) !== meta.sha256) throw changedBytes(meta, file, join(this.dir, metaFileOf(meta)));
    return bytes;
  }

  /**
   * The bytes of an original as a stream to send, after a first pass over the file checks them
   * against its sha256: an upload of a 33 MB original holds a chunk of it at a time, not the whole.
   */
  async originalSource(meta: OriginalMeta): Promise<{ length: number; open(): Readable }> {
    const file = this.originalFile(meta);
    const hash = createHash("sha256");
    try {
      await pipeline(createReadStream(file), hash);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      throw missingBytes(meta, file, join(this.dir, metaFileOf(meta)));
    }
    if (hash.digest("hex") !== meta.sha256) throw changedBytes(meta, file, join(this.dir, metaFileOf(meta)));
    return { length: meta.bytes, open: () => createReadStream(file) };
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
   * Stores an original as a candidate of its key, beside the ones already there (none is ever
   * replaced: the same bytes again are the same candidate). The bytes must decode as an image.
   * Bytes are written first and the metadata last, so a killed write leaves at most an orphan
   * bytes file, never metadata without its bytes. `times.createdAt` keeps the time an original was
   * made when it comes from elsewhere (the remote store); `record.chosenAt` records a person's choice,
   * `record.price` what it cost.
   */
  async put(
    generation: GenerationParams,
    image: GeneratedImage,
    providerId: string,
    record: { createdAt?: string; chosenAt?: string; price?: Price | undefined } = {},
  ): Promise<OriginalMeta> {
    const { createdAt = new Date().toISOString(), chosenAt, price } = record;
    const key = originalKey(generation);
    const bytes = Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength);
    const sha256 = sha256Hex(bytes);
    const { format, width, height } = await decodeOriginal(image.bytes, providerId, generation.prompt);
    const inputs = inputRecords(generation);
    // The first candidate of a key takes `<key>.*`, and so does a new original when that entry is
    // damaged (`imagegen generate --force`, as its message says, repairs it); later ones go beside.
    const first = await Promise.resolve().then(() => this.#readMetaFile(key, this.metaPath(key))).catch(() => undefined);
    const slot = !first || first.sha256 === sha256 ? key : `${key}.${sha256.slice(0, 16)}`;
    const file = `${slot}.${extensionOf(format)}`;
    // The same bytes again (a download of what is here): the candidate as it was made.
    const known = await this.readMeta(key, sha256).catch(() => undefined);
    if (known && (await this.checkOriginal(known).then(() => true, () => false))) return known;

    const meta: OriginalMeta = {
      key,
      ...generationFields(generation),
      provider: providerId,
      ...(image.recordId !== undefined ? { recordId: image.recordId } : {}),
      ...(image.origin !== undefined ? { origin: image.origin } : {}),
      sha256,
      width,
      height,
      format,
      bytes: bytes.byteLength,
      file,
      createdAt,
      ...(chosenAt !== undefined ? { chosenAt } : {}),
      ...(inputs ? { inputs } : {}),
      ...(price ? { price } : {}),
    };
    await writeFileAtomic(join(this.dir, file), bytes);
    await writeFileAtomic(join(this.dir, `${slot}.json`), stableJson(meta));
    return meta;
  }

  /** Removes every candidate of a key: each metadata file first (un-committing it), then the bytes. */
  async delete(key: OriginalKey): Promise<void> {
    const names = await this.names();
    const mine = names.filter((name) => name.startsWith(`${key}.`));
    for (const name of mine.filter((n) => n.endsWith(".json"))) await unlink(join(this.dir, name)).catch(ignoreNotFound);
    for (const name of mine.filter((n) => !n.endsWith(".json"))) await unlink(join(this.dir, name)).catch(ignoreNotFound);
  }

  /** Keys with at least one committed original (a metadata file). */
  async keys(): Promise<OriginalKey[]> {
    const keys = new Set<OriginalKey>();
    for (const name of await this.names()) {
      const match = CANDIDATE_META.exec(name);
      if (match) keys.add(match[1]!);
    }
    return [...keys].sort();
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

/** A committed candidate's metadata file: `<key>.json`, or `<key>.<sha16>.json`. */
const CANDIDATE_META = /^([0-9a-f]{20})(?:\.[0-9a-f]{16})?\.json$/;

/** The bytes of a candidate without metadata (a write killed in between): `<key>[.<sha16>].<ext>` → its key. */
export function uncommittedOriginalKey(name: string, committed: ReadonlySet<string>): OriginalKey | undefined {
  const match = /^(([0-9a-f]{20})(?:\.[0-9a-f]{16})?)\.(png|jpg|webp|avif|gif|tiff)$/.exec(name);
  return match && !committed.has(`${match[1]}.json`) ? match[2] : undefined;
}

/** The metadata file of a candidate: beside its bytes, `<slot>.json`. */
function metaFileOf(meta: OriginalMeta): string {
  return `${meta.file.slice(0, meta.file.lastIndexOf("."))}.json`;
}

/** Of a key's candidates (the local store's or the remote index's), the one chosen last, else the one made last. */
export function latestChosen<T extends { createdAt: string; chosenAt?: string }>(metas: (T | undefined)[]): T | undefined {
  let best: T | undefined;
  for (const meta of metas) {
    if (meta && (!best || compareText(meta.chosenAt ?? meta.createdAt, best.chosenAt ?? best.createdAt) > 0)) best = meta;
  }
  return best;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
 * Reads the image's header and checks that it is whole (a header alone would accept a truncated
 * download: see `checkWholeImage`), unless these very bytes were already checked in this process
 * (the onemin provider checks each download).
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
    if (!checked) await checkWholeImage(bytes, metadata);
    const { width, height } = metadata.autoOrient;
    return { format, width, height };
  } catch (error) {
    if (error instanceof ImagegenError) throw error;
    throw refuse(`${bytes.byteLength} bytes that do not decode as an image`, error);
  }
}

function metaProblem(value: unknown, key: OriginalKey, metaFile: string): string | undefined {
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
  for (const field of ["chosenAt", "origin"]) if (meta[field] !== undefined && typeof meta[field] !== "string") return `"${field}" is not a string`;
  if (!/^[0-9a-f]{64}$/.test(meta.sha256 as string)) return `"sha256" is not 64 hex digits`;
  const inputs = inputRecordsProblem(meta.inputs);
  if (inputs) return `"inputs" ${inputs}`;
  const price = priceProblem(meta.price);
  if (price) return `"price" ${price}`;
  // The file name is joined to the store folder: it must not point elsewhere, and sits beside its metadata.
  const slot = metaFile.slice(0, -".json".length);
  if (!new RegExp(`^${slot.replace(".", "\\.")}\\.[a-z0-9]+$`).test(meta.file as string)) return `"file" is not "${slot}.<ext>"`;
  if (slot !== key && !(meta.sha256 as string).startsWith(slot.slice(key.length + 1))) return `"sha256" does not start with ${slot.slice(key.length + 1)}`;
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
