import { readFile } from "node:fs/promises";
import path from "node:path";
import { ImagegenError } from "../errors.js";
import { type OriginalKey, originalKey } from "../spec/key.js";
import { type Manifest, parseManifest } from "../spec/manifest.js";
import type { ResolvedOptions } from "./options.js";
import { parseGenId } from "../spec/parse-gen-id.js";
import { resolveSpec } from "../spec/resolve-spec.js";
import { hashInputs } from "./input-images.js";
import { scanGenImports } from "./scan-sources.js";
import type { ImageSpec, SourceLocation } from "../spec/spec.js";

/** One original that the project uses, with every place that uses it. */
export interface DiscoveredSpec {
  key: OriginalKey;
  /** The spec at its first location (by file, line, column). */
  spec: ImageSpec;
  /** Every import or manifest entry that resolves to this key, sorted. */
  locations: SourceLocation[];
}

export interface Discovery {
  /** Sorted by first location. */
  specs: DiscoveredSpec[];
  /** Manifests read (with their parsed content), for `imagegen types`. */
  manifests: Manifest[];
  /** Bad `gen:` imports and manifests; every other spec is still found. */
  errors: ImagegenError[];
}

/** Never scanned, whatever the globs say: dependencies, build output, VCS and imagegen's own folders. */
export const ALWAYS_IGNORED = [
  "**/node_modules/**",
  "**/.git/**",
  "**/dist/**",
  "**/build/**",
  "**/.output/**",
  "**/.next/**",
  "**/.nuxt/**",
  "**/.svelte-kit/**",
  "**/.astro/**",
  "**/coverage/**",
];

/**
 * Finds every image of a project without running its code: manifests by `options.manifests`,
 * `gen:` imports by scanning `options.sources`. Each spec is resolved exactly as the bundler
 * plugin resolves it (parseGenId or parseManifest, then resolveSpec), so the keys are the same.
 */
export async function discoverSpecs(options: ResolvedOptions): Promise<Discovery> {
  const ignore = [...ALWAYS_IGNORED, ...insideRoot(options.root, [options.storeDir, options.cacheDir])];
  // fast-glob is imported here, not with the module: only the CLI scans a project.
  const glob = async (patterns: string[]) =>
    patterns.length === 0
      ? []
      : (await import("fast-glob")).default(patterns, { cwd: options.root, absolute: true, onlyFiles: true, ignore, followSymbolicLinks: false });
  const [manifestFiles, sourceFiles] = await Promise.all([glob(options.manifests), glob(options.sources)]);

  const resolved: ImageSpec[] = [];
  const manifests: Manifest[] = [];
  const errors: ImagegenError[] = [];
  const attempt = (work: () => void) => {
    try {
      work();
    } catch (error) {
      if (!(error instanceof ImagegenError)) throw error;
      errors.push(error);
    }
  };

  for (const file of [...new Set(manifestFiles.map(path.normalize))].sort()) {
    const text = await readFile(file, "utf8");
    attempt(() => {
      const manifest = parseManifest(text, file);
      manifests.push(manifest);
      for (const image of manifest.images) {
        attempt(() => resolved.push(resolveSpec(image.options, { ...options, source: image.location })));
      }
    });
  }

  for (const file of [...new Set(sourceFiles.map(path.normalize))].sort()) {
    const text = await readFile(file, "utf8");
    for (const { id, line, column } of scanGenImports(text, file)) {
      const source: SourceLocation = { file, line, column, id };
      attempt(() => resolved.push(resolveSpec(parseGenIdAt(id, source), { ...options, source })));
    }
  }

  // Input files are read (once each) after every spec is known; a bad one fails only its image.
  const hashed = await Promise.all(
    resolved.map((spec) =>
      hashInputs(spec, options.root).catch((error: unknown) => {
        if (!(error instanceof ImagegenError)) throw error;
        errors.push(error);
        return undefined;
      }),
    ),
  );
  const found = hashed.filter((spec) => spec !== undefined);

  return { specs: groupByKey(found), manifests, errors };
}

/** parseGenId, with the line and column of the import in its message (a bundler gives only the file). */
function parseGenIdAt(id: string, source: SourceLocation): ReturnType<typeof parseGenId> {
  try {
    return parseGenId(id, `${source.file}:${source.line}:${source.column}`);
  } catch (error) {
    if (!(error instanceof ImagegenError)) throw error;
    throw new ImagegenError(error.message, { location: source, cause: error.cause });
  }
}

function groupByKey(specs: ImageSpec[]): DiscoveredSpec[] {
  const byKey = new Map<OriginalKey, DiscoveredSpec>();
  for (const spec of [...specs].sort((a, b) => compareLocations(a.source, b.source))) {
    const key = originalKey(spec.generation);
    const known = byKey.get(key);
    if (known) known.locations.push(spec.source);
    else byKey.set(key, { key, spec, locations: [spec.source] });
  }
  return [...byKey.values()];
}

export function compareLocations(a: SourceLocation, b: SourceLocation): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}

/** Globs for folders below the root (the store, the cache), relative to it. */
function insideRoot(root: string, dirs: string[]): string[] {
  return dirs
    .map((dir) => path.relative(root, dir))
    .filter((relative) => relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative))
    .map((relative) => `${relative.split(path.sep).join("/")}/**`);
}
