import { relativeInside } from "../spec/project-path.js";
import path from "node:path";
import { type DiscoveredSpec, discoverSpecs } from "./discovery.js";
import { ImagegenError, formatLocation, truncate } from "../errors.js";
import type { ResolvedOptions } from "./options.js";
import type { SourceLocation } from "../spec/spec.js";
import { readLockfile } from "../store/lockfile.js";
import { Store } from "../store/store.js";

const LISTED = 20;

/**
 * Refuses a run before it generates anything when the project has more images without a stored
 * original than `maxGenerations` allows. A bundler loads modules one at a time and cannot know
 * them all in advance, so the project is scanned the way the CLI scans it (`manifests` and
 * `sources` globs). Images the scan cannot see are still capped by the Engine, one by one.
 */
export async function checkMaxGenerations(options: ResolvedOptions): Promise<void> {
  const { maxGenerations, provider, frozen } = options;
  if (!Number.isFinite(maxGenerations) || frozen || provider.persistent === false) return;
  const { specs } = await discoverSpecs(options);
  const missing = await withoutStoredOriginal(specs, options);
  if (missing.length <= maxGenerations) return;

  const lines = missing.slice(0, LISTED).map(({ spec, locations }) => {
    const more = locations.length > 1 ? ` (+${locations.length - 1} more)` : "";
    return `  - "${truncate(spec.generation.prompt)}" ${spec.generation.size} (${formatLocation(relativeTo(options.root, locations[0]!))})${more}`;
  });
  if (missing.length > LISTED) lines.push(`  - … and ${missing.length - LISTED} more`);
  throw new ImagegenError(
    `${missing.length === 1 ? "1 image has" : `${missing.length} images have`} no stored original but maxGenerations is ${maxGenerations}, so none was generated:\n` +
      `${lines.join("\n")}\n` +
      "Raise maxGenerations (in imagegen.config.ts or the plugin options) to allow them.",
  );
}

/**
 * The specs a run would pay for: no committed original in the store, and no lock entry (a locked
 * original comes from the remote store or fails; it is never paid for). A damaged entry is not
 * counted (it fails on its own).
 */
async function withoutStoredOriginal(specs: DiscoveredSpec[], options: ResolvedOptions): Promise<DiscoveredSpec[]> {
  const store = new Store(options.storeDir);
  const [stored, lock] = await Promise.all([store.keys().then((keys) => new Set(keys)), readLockfile(options.lockfilePath)]);
  return specs.filter((spec) => !stored.has(spec.key) && !lock.images[spec.key]);
}

function relativeTo(root: string, location: SourceLocation): SourceLocation {
  const relative = relativeInside(root, location.file);
  return relative === undefined ? location : { ...location, file: relative };
}
