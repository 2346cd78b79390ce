import { existsSync, readFileSync, utimesSync } from "node:fs";
import { readdir, stat, unlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { type SharpModule, loadSharp } from "../sharp.js";
import { writeFileAtomic } from "./atomic-write.js";
import { extensionOf } from "../spec/formats.js";
import { sha256Hex } from "../spec/key.js";
import { OUTPUT_FORMATS, type OutputFormat, type OutputParams } from "../spec/spec.js";
import type { Rendition, Variant } from "../render/variants.js";
import type { ReadMemo } from "./read-memo.js";

/**
 * Bump when `renderVariants` makes different bytes for the same input and parameters
 * (new encoder settings, a changed crop), so that old cache entries are not reused.
 */
const RENDER_REVISION = 1;

/**
 * What made the cached bytes: sharp, libvips and its encoders, and our own pipeline. Any
 * change (a sharp upgrade, say) gives every rendition a new key, so stale bytes are never emitted.
 */
export function describeEncoder(sharp: SharpModule): string {
  return describeVersions(sharp.versions);
}

function describeVersions(versions: Partial<Record<string, string>>): string {
  return [
    `sharp@${versions.sharp}`,
    `vips@${versions.vips}`,
    ...(["aom", "heif", "webp", "mozjpeg", "png", "imagequant", "spng"] as const).flatMap((lib) =>
      versions[lib] ? [`${lib}@${versions[lib]}`] : [],
    ),
    `r${RENDER_REVISION}`,
  ].join("+");
}

/**
 * The cache key of a rendition: the original's sha256, the output parameters and the encoder
 * version ({@link DerivedCache.encoder}).
 */
export function renditionKey(originalSha256: string, output: OutputParams, encoder: string): string {
  const canonical = JSON.stringify({
    original: originalSha256,
    // Variants come out sorted and deduplicated, so the order the widths were written in does not matter.
    widths: output.widths?.length ? [...new Set(output.widths)].sort((a, b) => a - b) : null,
    // The order of formats decides only the order of variants, which the caller restores (inFormatOrder).
    formats: [...new Set(output.formats)].sort(),
    quality: output.quality ?? null,
    aspect: output.aspect ? [output.aspect.width, output.aspect.height] : null,
    // Without an aspect ratio every fit gives the same pixels.
    fit: output.aspect ? output.fit : null,
    placeholder: output.placeholder,
    encoder,
  });
  return sha256Hex(canonical).slice(0, 32);
}

/** `<key>.json`: the rendition without its bytes, which sit beside it. */
export interface CachedRendition {
  variants: { format: OutputFormat; width: number; height: number; hash: string; file: string }[];
  width: number;
  height: number;
  placeholder: string | null;
}

/**
 * Cache files are not flushed to disk: every variant is checked against its sha256 when read, and
 * a JSON that a machine crash left empty does not parse, so the worst a crash does is a miss. It
 * saves an fsync per file (a cold CI build writes 200 of them).
 */
const CACHE_WRITE = { durable: false } as const;

/**
 * Variants made by sharp, cached so that a warm build re-encodes nothing
 * (`node_modules/.cache/imagegen/`). A missing or damaged entry is a miss, never an error:
 * it is simply made again.
 */
export class DerivedCache {
  readonly dir: string;
  #encoder: Promise<string> | undefined;
  /** Keys this process read or wrote: their access time is recorded at `trim`, and they are never evicted by it. */
  readonly #used = new Set<string>();
  #wrote = false;
  readonly #memo: ReadMemo | undefined;

  /**
   * With a `memo`, the JSON of each rendition is read once and remembered with the others
   * (store/read-memo.ts), and the use of an entry is recorded on disk once an hour, not every build.
   */
  constructor(dir: string, { memo }: { memo?: ReadMemo } = {}) {
    this.dir = dir;
    this.#memo = memo;
  }

  /**
   * {@link describeEncoder} without importing sharp when the cache already knows it: a warm build
   * never decodes, and sharp's import would be most of its cost. `encoder.json` records it with
   * the folder and version of the sharp package it came from; another sharp makes it again.
   * Without a memo (a fresh CI machine, whose renditions all come from the remote store) the
   * versions are read from sharp's prebuilt packages when those are what sharp would load
   * ({@link prebuiltEncoder}): importing sharp costs such a build ~150 ms of its ~550.
   */
  encoder(): Promise<string> {
    this.#encoder ??= (async () => {
      const file = join(this.dir, ENCODER_FILE);
      const installed = installedSharp();
      try {
        const memo = JSON.parse(readFileSync(file, "utf8")) as Partial<EncoderMemo>;
        if (installed && memo.sharp === installed.id && typeof memo.encoder === "string") return memo.encoder;
      } catch {
        // No memo yet, or a damaged one: ask sharp.
      }
      const encoder = (installed && prebuiltEncoder(installed.dir)) ?? describeEncoder(await loadSharp());
      if (installed) {
        const memo: EncoderMemo = { sharp: installed.id, encoder };
        await writeFileAtomic(file, `${JSON.stringify(memo, null, 2)}\n`, CACHE_WRITE).catch(() => {});
      }
      return encoder;
    })();
    return this.#encoder;
  }

  /**
   * The cached rendition, or `undefined` when it is absent, incomplete or corrupt.
   * Read synchronously: a JSON and a few encoded variants take microseconds each, while an async
   * read queues behind sharp on libuv's threads (a cached module took 1.1 ms, now 0.2 ms).
   */
  async get(key: string): Promise<Rendition | undefined> {
    const known = this.#memo?.rendition(key);
    if (known && isCachedRendition(known, key)) {
      const rendition = this.#assemble(key, known);
      if (rendition) return rendition;
    }
    try {
      const entry = parseRenditionEntry(readFileSync(join(this.dir, `${key}.json`), "utf8"), key);
      if (!entry) return undefined;
      const rendition = this.#assemble(key, entry);
      if (rendition) this.#memo?.rememberRendition(key, entry);
      return rendition;
    } catch {
      return undefined;
    }
  }

  /** The rendition of an entry with its variants' bytes, when every file is there and matches its hash. */
  #assemble(key: string, entry: CachedRendition): Rendition | undefined {
    try {
      // The one hash of each file in a warm build: callers name files with `hash` and never re-hash.
      const rendition = assembleRendition(entry, entry.variants.map(({ file }) => readFileSync(join(this.dir, file))));
      if (rendition) this.#used.add(key);
      return rendition;
    } catch {
      return undefined;
    }
  }

  /**
   * One variant of the rendition `key`: cached on its own by {@link setVariant}, or part of a
   * whole cached rendition; `undefined` when neither holds it intact.
   */
  async getVariant(key: string, format: OutputFormat, width: number): Promise<Variant | undefined> {
    const file = `${key}.${width}.${extensionOf(format)}`;
    try {
      const entry = JSON.parse(readFileSync(join(this.dir, `${file}.json`), "utf8")) as CachedVariant;
      const bytes = readFileSync(join(this.dir, file));
      const valid = entry.format === format && entry.width === width && typeof entry.height === "number";
      if (valid && sha256Hex(bytes) === entry.hash) {
        this.#used.add(key);
        return { ...entry, bytes };
      }
    } catch {
      // Not cached on its own: a whole rendition may hold it.
    }
    try {
      // Its JSON, then this variant's file alone (not every variant of the rendition, each hashed).
      const entry = parseRenditionEntry(readFileSync(join(this.dir, `${key}.json`), "utf8"), key);
      const found = entry?.variants.find((variant) => variant.format === format && variant.width === width);
      if (!found) return undefined;
      const { file: cached, ...variant } = found;
      const bytes = readFileSync(join(this.dir, cached));
      if (sha256Hex(bytes) !== variant.hash) return undefined;
      this.#used.add(key);
      return { ...variant, bytes };
    } catch {
      return undefined;
    }
  }

  /** Stores one variant: its bytes first, the JSON beside them last. */
  async setVariant(key: string, variant: Variant): Promise<void> {
    const file = `${key}.${variant.width}.${extensionOf(variant.format)}`;
    const { format, width, height, hash } = variant;
    const entry: CachedVariant = { format, width, height, hash };
    await writeFileAtomic(join(this.dir, file), variant.bytes, CACHE_WRITE);
    await writeFileAtomic(join(this.dir, `${file}.json`), `${JSON.stringify(entry)}\n`, CACHE_WRITE);
    this.#used.add(key);
    this.#wrote = true;
  }

  /** The blurred placeholder of rendition `key` cached by {@link setPlaceholder}. */
  getPlaceholder(key: string): string | undefined {
    try {
      const text = readFileSync(join(this.dir, `${key}.placeholder.txt`), "utf8");
      return text.startsWith("data:image/") ? text : undefined;
    } catch {
      return undefined;
    }
  }

  async setPlaceholder(key: string, dataUrl: string): Promise<void> {
    await writeFileAtomic(join(this.dir, `${key}.placeholder.txt`), dataUrl, CACHE_WRITE);
    this.#used.add(key);
    this.#wrote = true;
  }

  /** Stores a rendition: every variant file first, the JSON last, so a half-written entry is a miss. */
  async set(key: string, rendition: Rendition): Promise<void> {
    const { entry, json, files } = serializeRendition(key, rendition);
    await Promise.all(files.map(({ name, bytes }) => writeFileAtomic(join(this.dir, name), bytes, CACHE_WRITE)));
    await writeFileAtomic(join(this.dir, `${key}.json`), json, CACHE_WRITE);
    this.#memo?.rememberRendition(key, entry, { written: true });
    this.#used.add(key);
    this.#wrote = true;
  }

  /**
   * Records when this process used its entries (the mtime of `<key>.json`, set without reading
   * anything; with a memo, only where the last record is an hour old), then removes the least
   * recently used entries of other builds until the cache holds at most `maxBytes`. A process that wrote nothing made the cache no larger: it only records.
   */
  async trim(maxBytes: number, options: { always?: boolean } = {}): Promise<CacheTrim> {
    const now = new Date();
    // Synchronously: a few µs each, where 40 async calls wait their turn on libuv's four threads.
    for (const key of this.#used) {
      if (this.#memo && !this.#memo.useIsStale(key)) continue;
      try {
        utimesSync(join(this.dir, `${key}.json`), now, now);
      } catch {
        // Removed meanwhile (or a variant cached on its own): nothing to record.
      }
    }
    if (!this.#wrote && !options.always) return { removed: 0, freedBytes: 0, totalBytes: undefined };
    this.#wrote = false;
    const entries = await this.#entries();
    let totalBytes = entries.reduce((sum, entry) => sum + entry.bytes, 0);
    let removed = 0;
    let freedBytes = 0;
    for (const entry of entries.sort((a, b) => a.usedMs - b.usedMs)) {
      if (totalBytes <= maxBytes) break;
      if (this.#used.has(entry.key)) continue;
      // The JSON first: from then on the entry is a miss, whatever is left of its files.
      for (const file of entry.files.sort((a, b) => Number(b.endsWith(".json")) - Number(a.endsWith(".json")))) {
        await unlink(join(this.dir, file)).catch(() => {});
      }
      totalBytes -= entry.bytes;
      freedBytes += entry.bytes;
      removed++;
      this.#memo?.forget(entry.key);
    }
    return { removed, freedBytes, totalBytes };
  }

  /** Every rendition in the folder with its size and last use (temporary files and encoder.json aside). */
  async #entries(): Promise<{ key: string; files: string[]; bytes: number; usedMs: number }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const byKey = new Map<string, { key: string; files: string[]; bytes: number; usedMs: number }>();
    await Promise.all(
      names.map(async (name) => {
        const key = /^([0-9a-f]{32})\./.exec(name)?.[1];
        if (key === undefined) return;
        const info = await stat(join(this.dir, name)).catch(() => undefined);
        if (!info?.isFile()) return;
        let entry = byKey.get(key);
        if (!entry) byKey.set(key, (entry = { key, files: [], bytes: 0, usedMs: 0 }));
        entry.files.push(name);
        entry.bytes += info.size;
        // Use is recorded on the JSON; an entry without one (half written) counts from its newest file.
        if (name.endsWith(".json")) entry.usedMs = info.mtimeMs;
        else if (!entry.files.some((file) => file.endsWith(".json"))) entry.usedMs = Math.max(entry.usedMs, info.mtimeMs);
      }),
    );
    return [...byKey.values()];
  }
}

/** Default of `cacheMaxBytes`: 1 GiB. */
export const DEFAULT_CACHE_MAX_BYTES = 1024 ** 3;

/** What `DerivedCache.trim` did; `totalBytes` is undefined when it did not need to look. */
export interface CacheTrim {
  removed: number;
  freedBytes: number;
  totalBytes: number | undefined;
}

/**
 * A rendition as files: `<key>.json` and `<key>.<width>.<ext>` per variant. One layout for the
 * local derived cache and the remote store's `derived/` (store/remote.ts).
 */
export function serializeRendition(
  key: string,
  rendition: Rendition,
): { entry: CachedRendition; json: string; files: { name: string; bytes: Buffer }[] } {
  const entry: CachedRendition = {
    variants: rendition.variants.map(({ format, width, height, hash }) => ({
      format,
      width,
      height,
      hash,
      file: `${key}.${width}.${extensionOf(format)}`,
    })),
    width: rendition.width,
    height: rendition.height,
    placeholder: rendition.placeholder ?? null,
  };
  const files = entry.variants.map(({ file }, i) => ({ name: file, bytes: rendition.variants[i]!.bytes }));
  return { entry, json: `${JSON.stringify(entry, null, 2)}\n`, files };
}

/** The JSON of a cached rendition, or `undefined` when it is not valid JSON or not an entry of `key`. */
export function parseRenditionEntry(text: string, key: string): CachedRendition | undefined {
  try {
    const entry: unknown = JSON.parse(text);
    return isCachedRendition(entry, key) ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** An entry joined with its variants' bytes (in the entry's order); `undefined` when any does not match its hash. */
export function assembleRendition(entry: CachedRendition, files: Buffer[]): Rendition | undefined {
  const variants: Variant[] = [];
  for (const [i, { file: _file, ...variant }] of entry.variants.entries()) {
    const bytes = files[i];
    if (!bytes || sha256Hex(bytes) !== variant.hash) return undefined;
    variants.push({ ...variant, bytes });
  }
  return { variants, width: entry.width, height: entry.height, placeholder: entry.placeholder ?? undefined };
}

/** Not a rendition: rendition files are named after their 32-hex-digit key. */
export const ENCODER_FILE = "encoder.json";

interface EncoderMemo {
  /** The sharp package that described the encoder: its folder and version. */
  sharp: string;
  encoder: string;
}

/** The sharp package that `import("sharp")` would load, found without loading it: its folder, and `<folder>@<version>`. */
function installedSharp(): { dir: string; id: string } | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve("sharp");
    for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
      let manifest: { name?: unknown; version?: unknown };
      try {
        manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      } catch {
        continue;
      }
      if (manifest.name === "sharp" && typeof manifest.version === "string") return { dir, id: `${dir}@${manifest.version}` };
    }
  } catch {
    // Not resolvable from here: no memo, sharp is asked each time.
  }
  return undefined;
}

/**
 * What {@link describeEncoder} would say of the sharp package in `sharpDir`, read from files:
 * its version, and the versions of the prebuilt libvips that its binary links, which sharp itself
 * reports from `@img/sharp-<platform>/versions` or `@img/sharp-libvips-<platform>/versions`.
 * `undefined` whenever sharp might load something else: a binary built from source (which may
 * link a global libvips), no prebuilt binary or more than one for this platform (glibc and musl),
 * or a WebAssembly build installed beside it as a fallback. Then sharp is imported and asked.
 * Tested against `sharp.versions` itself.
 */
export function prebuiltEncoder(sharpDir: string): string | undefined {
  try {
    if (existsSync(join(sharpDir, "src", "build", "Release"))) return undefined;
    const manifest = JSON.parse(readFileSync(join(sharpDir, "package.json"), "utf8")) as { version?: unknown };
    if (typeof manifest.version !== "string") return undefined;
    // sharp resolves its binary and versions from its own code (dist/ since 0.35, lib/ before).
    const require = createRequire(join(sharpDir, existsSync(join(sharpDir, "dist")) ? "dist" : "lib", "sharp.js"));
    const resolves = (request: string) => {
      try {
        return require.resolve(request);
      } catch {
        return undefined;
      }
    };
    if (resolves("@img/sharp-wasm32/sharp.node")) return undefined;
    const { platform, arch } = process;
    const platforms = (platform === "linux" ? [`linux-${arch}`, `linuxmusl-${arch}`] : [`${platform}-${arch}`]).filter(
      (candidate) => resolves(`@img/sharp-${candidate}/sharp.node`),
    );
    if (platforms.length !== 1) return undefined;
    const versionsFile = resolves(`@img/sharp-${platforms[0]}/versions`) ?? resolves(`@img/sharp-libvips-${platforms[0]}/versions`);
    if (!versionsFile) return undefined;
    const versions = JSON.parse(readFileSync(versionsFile, "utf8")) as Record<string, unknown>;
    if (typeof versions.vips !== "string") return undefined;
    const strings = Object.fromEntries(Object.entries(versions).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
    return describeVersions({ ...strings, sharp: manifest.version });
  } catch {
    return undefined;
  }
}

/** `<key>.<width>.<ext>.json`: one variant cached on its own (the dev server encodes on request). */
interface CachedVariant {
  format: OutputFormat;
  width: number;
  height: number;
  hash: string;
}

function isCachedRendition(value: unknown, key: string): value is CachedRendition {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    Array.isArray(entry.variants) &&
    entry.variants.every((variant: Record<string, unknown> | null) => {
      return (
        typeof variant === "object" &&
        variant !== null &&
        OUTPUT_FORMATS.includes(variant.format as OutputFormat) &&
        typeof variant.width === "number" &&
        typeof variant.height === "number" &&
        typeof variant.hash === "string" &&
        // The file name is joined to the cache folder: it must stay inside it.
        typeof variant.file === "string" &&
        variant.file.startsWith(`${key}.`) &&
        !/[/\\]/.test(variant.file)
      );
    }) &&
    typeof entry.width === "number" &&
    typeof entry.height === "number" &&
    (entry.placeholder === null || typeof entry.placeholder === "string")
  );
}
