import { relativeInside } from "../spec/project-path.js";
import { type DiscoveredSpec, discoverSpecs } from "./discovery.js";
import { ImagegenError, formatLocation, truncate } from "../errors.js";
import type { ResolvedOptions } from "./options.js";
import type { SourceLocation } from "../spec/spec.js";
import { readLockfile } from "../store/lockfile.js";
import { Store } from "../store/store.js";
import { type PlanRefusal, type PlannedGeneration, checkPlan, pricesHint } from "../cost/run-budget.js";
import { estimatePrice, formatMoney, formatPrice, formatTotal } from "../cost/price.js";

const LISTED = 20;

/** Whether a run has a budget at all (`maxGenerations` or `maxCost`): without one, nothing is checked before it. */
export function hasSpendLimits(options: Pick<ResolvedOptions, "maxGenerations" | "maxCost">): boolean {
  return Number.isFinite(options.maxGenerations) || Number.isFinite(options.maxCost);
}

/** An image a run would pay for, and its estimate, for the budget's plan check. */
export function plannedGeneration(spec: DiscoveredSpec["spec"], options: Pick<ResolvedOptions, "currency" | "prices">): PlannedGeneration {
  const { model, size } = spec.generation;
  return { model, size, estimate: estimatePrice(spec.generation, options) };
}

/**
 * Refuses a run before it generates anything when the images without a stored original are more
 * than `maxGenerations` allows, cost more than `maxCost`, or have no price while `maxCost` is set.
 * A bundler loads modules one at a time and cannot know them all in advance, so the project is
 * scanned the way the CLI scans it (`manifests` and `sources` globs). Images the scan cannot see
 * are still held to both budgets by the Engine, one by one.
 */
export async function checkSpendLimits(options: ResolvedOptions): Promise<void> {
  const { provider, frozen } = options;
  if (!hasSpendLimits(options) || frozen || provider.persistent === false) return;
  const { specs } = await discoverSpecs(options);
  const missing = await withoutStoredOriginal(specs, options);
  const planned = missing.map(({ spec }) => plannedGeneration(spec, options));
  const refusal = checkPlan(planned, options);
  if (!refusal) return;

  const lines = missing.slice(0, LISTED).map(({ spec, locations }, i) => {
    const more = locations.length > 1 ? ` (+${locations.length - 1} more)` : "";
    const price = refusal.limit === "maxGenerations" ? "" : ` · ${formatPrice(planned[i]!.estimate)}`;
    return `  - "${truncate(spec.generation.prompt)}" ${spec.generation.size} (${formatLocation(relativeTo(options.root, locations[0]!))})${more}${price}`;
  });
  if (missing.length > LISTED) lines.push(`  - … and ${missing.length - LISTED} more`);
  const images = missing.length === 1 ? "1 image has" : `${missing.length} images have`;
  const { head, fix } = refusalText(refusal, options);
  throw new ImagegenError(`${images} no stored original ${head}, so none was generated:\n${lines.join("\n")}\n${fix}`);
}

/** The build's words for each budget that refuses a plan: what broke, and how to allow it. */
function refusalText(refusal: PlanRefusal, options: ResolvedOptions): { head: string; fix: string } {
  const where = "(in imagegen.config.ts or the plugin options)";
  if (refusal.limit === "maxGenerations") {
    return { head: `but maxGenerations is ${options.maxGenerations}`, fix: `Raise maxGenerations ${where} to allow them.` };
  }
  if (refusal.limit === "maxCost") {
    return {
      head: `and would cost ${formatTotal(refusal.total)}, but maxCost is ${formatMoney(options.maxCost, options.currency)}`,
      fix: `Raise maxCost ${where} to allow them.`,
    };
  }
  return {
    head: "and maxCost is set, but some have no known price",
    fix: `Give them one in imagegen.config.ts: ${pricesHint(refusal.unpriced)} (in ${options.currency}; docs/cost.md).`,
  };
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
