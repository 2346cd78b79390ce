import { readFileSync } from "node:fs";
import { ImagegenError } from "../errors.js";
import { type OriginalKey, originalKey } from "../spec/key.js";
import type { Manifest } from "../spec/manifest.js";
import { parseManifestRemembered } from "./manifest-memo.js";
import type { ResolvedOptions } from "./options.js";
import { parseGenId } from "../spec/parse-gen-id.js";
import { resolveSpec } from "../spec/resolve-spec.js";
import { hashInputs } from "./input-images.js";
import { findProjectFiles } from "./project-files.js";
import { scanGenImports } from "./scan-sources.js";
import type { ImageSpec, SourceLocation } from "../spec/spec.js";

/** One original that the project uses, with every place that uses it. */
export interface DiscoveredSpec {
  key: OriginalKey;
  /** The spec at its first location (by file, line, column). */
  spec: ImageSpec;
  /** Every import or manifest entry that resolves to this key, sorted. */
  locations: SourceLocation[];
  /** The spec of each location, in the same order: each may crop (`aspect`, `fit`) and encode the original its own way. */
  uses: ImageSpec[];
}

export interface Discovery {
  /** Sorted by first location. */
  specs: DiscoveredSpec[];
  /** Manifests read (with their parsed content), for `imagegen types`. */
  manifests: Manifest[];
  /** Bad `gen:` imports and manifests; every other spec is still found. */
  errors: ImagegenError[];
}

/**
 * Finds every image of a project without running its code: manifests by `options.manifests`,
 * `gen:` imports by scanning `options.sources` ({@link findProjectFiles}). Each spec is resolved
 * exactly as the bundler plugin resolves it (parseGenId or parseManifest, then resolveSpec), so the keys are the same.
 */
export async function discoverSpecs(options: ResolvedOptions): Promise<Discovery> {
  const files = await findProjectFiles(options);

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

  // Read synchronously: thousands of small files read faster that way than through libuv's few threads.
  const readText = (file: string): string | undefined => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      // Deleted since the walk: nothing to find there. Unreadable: said, and the rest still found.
      const { code, message } = error as NodeJS.ErrnoException;
      if (code !== "ENOENT") errors.push(new ImagegenError(`Could not read ${file}: ${message}`, { cause: error }));
      return undefined;
    }
  };

  for (const file of files.manifests) {
    const text = readText(file);
    if (text === undefined) continue;
    attempt(() => {
      const manifest = parseManifestRemembered(text, file, options.cacheDir);
      manifests.push(manifest);
      for (const image of manifest.images) {
        attempt(() => resolved.push(resolveSpec(image.options, { ...options, source: image.location })));
      }
    });
  }

  for (const file of files.sources) {
    for (const { id, line, column } of scanGenImports(readText(file) ?? "", file)) {
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
    if (known) {
      known.locations.push(spec.source);
      known.uses.push(spec);
    } else {
      byKey.set(key, { key, spec, locations: [spec.source], uses: [spec] });
    }
  }
  return [...byKey.values()];
}

export function compareLocations(a: SourceLocation, b: SourceLocation): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}
