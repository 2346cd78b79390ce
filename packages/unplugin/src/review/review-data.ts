import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  type AuditedImage,
  type CostTotal,
  type Discovery,
  type Engine,
  type ImageSpec,
  type OriginalMeta,
  type OutputParams,
  type PlannedVariant,
  type SourceLocation,
  SIZE_PIXELS,
  auditImages,
  entryRevision,
  formatPrice,
  formatTotal,
  planVariants,
  plannedGeneration,
  relativeInside,
  renderVariants,
  reviewState,
  totalOf,
} from "@imagegen/core";
import { type Candidate, listCandidates } from "./candidates.js";
import type { Crop, Picture, ReviewCandidate, ReviewData, ReviewImage } from "./review-types.js";

/** Width of a candidate's preview: large enough for the two-up compare, small enough to render at once. */
export const PREVIEW_WIDTH = 640;
const INPUT_PREVIEW_WIDTH = 160;

/** What a page's image URL (`images/<name>`) stands for: never a path taken from the URL. */
export type ReviewAsset =
  | { kind: "candidate"; meta: OriginalMeta; spec: ImageSpec; planned: PlannedVariant }
  | { kind: "input"; file: string; output: OutputParams };

export interface BuiltReview {
  data: ReviewData;
  /** `images/<name>` → what to render for it. */
  assets: Map<string, ReviewAsset>;
  /** What the originals the lock pins for the images in use cost (docs/cost.md). */
  inUse: CostTotal;
}

export interface ReviewSettings {
  mode: ReviewData["mode"];
  readOnlyReason?: string;
  /** Scrubs a message of what must never show (the API key). */
  clean?: (text: string) => string;
}

/**
 * The review page's data for a project's images in use: state, prompt, where used, parameters,
 * inputs, each crop it ships with, and every candidate with a preview per crop; with the assets
 * its image URLs name.
 */
export async function buildReview(engine: Engine, discovery: Discovery, settings: ReviewSettings): Promise<BuiltReview> {
  const { options } = engine;
  const clean = settings.clean ?? ((text: string) => text);
  const audit = await auditImages(discovery.specs, { ...options, verifyBytes: false });
  const assets = new Map<string, ReviewAsset>();
  const where = (location: SourceLocation) => {
    const file = relativeInside(options.root, location.file) ?? location.file;
    return `${file.split(path.sep).join("/")}${location.line !== undefined ? `:${location.line}${location.column !== undefined ? `:${location.column}` : ""}` : ""}`;
  };

  const pinned: (OriginalMeta | undefined)[] = [];
  const images = await Promise.all(
    audit.images.map(async (image): Promise<ReviewImage> => {
      const candidates = await listCandidates(engine, image.spec, image.locked);
      pinned.push(candidates.find((candidate) => candidate.pinned)?.meta);
      const crops = distinctCrops(image.uses);
      const name = image.locations.find((location) => location.name !== undefined)?.name;
      return {
        key: image.key,
        ...(name !== undefined && { name }),
        prompt: image.spec.prompt,
        finalPrompt: image.spec.generation.prompt,
        state: reviewState(image.locked),
        status: image.status,
        ...(image.problem !== undefined && { problem: clean(image.problem) }),
        revision: entryRevision(image.locked),
        parameters: specParameters(image),
        inputs: (image.spec.generation.inputs ?? []).map((input) => {
          const name = `input-${input.sha256!.slice(0, 20)}.webp`;
          assets.set(name, { kind: "input", file: input.file, output: previewOutput(undefined, INPUT_PREVIEW_WIDTH) });
          // Its height is known once rendered: the page lets the width decide it.
          return { role: input.role, path: input.path, sha256: input.sha256!, picture: { src: `images/${name}`, width: INPUT_PREVIEW_WIDTH, height: INPUT_PREVIEW_WIDTH } };
        }),
        usedIn: image.locations.map((location, i) => ({
          where: where(location),
          ...((location.name ?? location.id) !== undefined && { detail: location.name !== undefined ? `image "${location.name}"` : location.id }),
          crop: crops.indexOf(cropId(image.uses[i]!.output)),
        })),
        crops: crops.map((id) => describeCrop(image, id, candidates)),
        candidates: candidates.map((candidate) => reviewCandidate(image, candidate, crops, assets)),
        rerollCost: rerollCost(image, options),
      };
    }),
  );

  return {
    assets,
    inUse: totalOf(pinned.flatMap((meta) => (meta ? [meta.price] : [])), options.currency),
    data: {
      title: `imagegen review: ${path.basename(options.root)}`,
      generatedAt: new Date().toISOString(),
      mode: settings.mode,
      ...(settings.readOnlyReason !== undefined && { readOnlyReason: settings.readOnlyReason }),
      reviewRequired: options.review === "required",
      ...(generationProblem(engine) !== undefined && { cannotGenerate: generationProblem(engine) }),
      generationsLeft: Number.isFinite(engine.generationsLeft) ? Math.max(0, engine.generationsLeft) : null,
      images,
      unused: audit.orphaned.map((orphan) => ({ key: orphan.key, prompt: orphan.prompt })),
      errors: discovery.errors.map((error) => clean(error.message)),
    },
  };
}

/** Why this engine cannot make a candidate that is kept (`imagegen reroll`, the page's re-roll), if it cannot. */
export function generationProblem(engine: Engine): string | undefined {
  const { options } = engine;
  if (options.frozen) return "imagegen is frozen (--frozen or IMAGEGEN_FROZEN)";
  if (options.usingFallbackPlaceholder) return "ONEMIN_API_KEY is not set";
  if (options.provider.persistent === false) {
    const origin = options.provider.origin;
    return origin !== undefined
      ? `${origin} is not the 1min.ai API, whose images are not kept (set persistent: true or IMAGEGEN_PERSISTENT=1 to keep them)`
      : `provider "${options.provider.id}" keeps nothing it makes`;
  }
  return undefined;
}

/** The output of a preview: the crop of the import (`aspect`, `fit`), one WebP of `width`. */
function previewOutput(output: OutputParams | undefined, width = PREVIEW_WIDTH): OutputParams {
  return { widths: [width], formats: ["webp"], quality: 80, aspect: output?.aspect, fit: output?.fit ?? "inside", placeholder: "none" };
}

/** What decides the crop of an import: its aspect and, with one, its fit. */
function cropId(output: OutputParams): string {
  return output.aspect ? `${output.aspect.width}x${output.aspect.height}-${output.fit}` : "full";
}

/** The distinct crops of an image's uses, in the order of its first use of each. */
function distinctCrops(uses: ImageSpec[]): string[] {
  return [...new Set(uses.map((use) => cropId(use.output)))];
}

function describeCrop(image: AuditedImage, id: string, candidates: Candidate[]): Crop {
  const uses = image.uses.filter((use) => cropId(use.output) === id);
  const { aspect, fit } = uses[0]!.output;
  // The largest file any of these imports ships, from the pinned original's size (else the size asked for).
  const size = candidates.find((candidate) => candidate.pinned)?.meta ?? { width: SIZE_PIXELS[image.spec.generation.size], height: SIZE_PIXELS[image.spec.generation.size] };
  let largest = { width: 0, height: 0 };
  for (const use of uses) {
    for (const planned of planVariants(size, use.output)) if (planned.width > largest.width) largest = planned;
  }
  return {
    label: aspect ? `${aspect.width}:${aspect.height}, ${fit}` : "as made",
    width: largest.width,
    height: largest.height,
    formats: [...new Set(uses.flatMap((use) => use.output.formats))],
  };
}

function reviewCandidate(image: AuditedImage, candidate: Candidate, crops: string[], assets: Map<string, ReviewAsset>): ReviewCandidate {
  const { meta } = candidate;
  const previews = crops.map((id): Picture | undefined => {
    if (!meta) return undefined;
    const use = image.uses.find((spec) => cropId(spec.output) === id)!;
    const spec: ImageSpec = { ...use, output: previewOutput(use.output) };
    const [planned] = planVariants(meta, spec.output);
    const name = `${meta.sha256.slice(0, 16)}-${id}.webp`;
    assets.set(name, { kind: "candidate", meta, spec, planned: planned! });
    return { src: `images/${name}`, width: planned!.width, height: planned!.height };
  });
  return {
    number: candidate.number,
    sha256: candidate.sha256,
    pinned: candidate.pinned,
    approved: candidate.approved,
    pending: candidate.pending,
    available: meta !== undefined,
    ...(meta && {
      createdAt: meta.createdAt,
      ...(meta.chosenAt !== undefined && { chosenAt: meta.chosenAt }),
      provider: meta.recordId ? `${meta.provider} (record ${meta.recordId})` : meta.provider,
      price: formatPrice(meta.price),
      width: meta.width,
      height: meta.height,
    }),
    previews,
  };
}

/** What 1…9 new candidates of an image would cost, as the page's re-roll dialog says before it spends. */
function rerollCost(image: AuditedImage, options: Engine["options"]): string[] {
  const { estimate } = plannedGeneration(image.spec, options);
  return Array.from({ length: 9 }, (_, i) => formatTotal(totalOf(Array<typeof estimate>(i + 1).fill(estimate), options.currency)));
}

/** The parameters of an image as the page and the report list them. */
function specParameters(image: AuditedImage): [string, string][] {
  const { generation, output } = image.spec;
  const rows: [string, string | undefined][] = [
    ["model", generation.model],
    ["size", generation.size],
    ["temperature", String(generation.temperature)],
    ["topP", String(generation.topP)],
    ["variant", generation.variant || undefined],
    ["style", image.spec.style],
    ["widths", output.widths?.join(", ") ?? "original"],
    ["formats", output.formats.join(", ")],
    ["quality", output.quality === undefined ? undefined : String(output.quality)],
    ["placeholder", output.placeholder === "none" ? undefined : output.placeholder],
    ["alt", image.spec.alt !== image.spec.prompt ? image.spec.alt : undefined],
    ["key", image.key],
    ["sha256", image.locked?.sha256],
  ];
  return rows.filter((row): row is [string, string] => row[1] !== undefined);
}

/**
 * The bytes of an asset of the page: a candidate's preview through the engine's render path (the
 * derived cache, the render pool: what a build does, at the import's crop), or an input's picture.
 */
export async function renderAsset(engine: Engine, asset: ReviewAsset): Promise<Buffer> {
  if (asset.kind === "input") return (await renderVariants(await readFile(asset.file), asset.output)).variants[0]!.bytes;
  const { meta, spec, planned } = asset;
  const original = { key: meta.key, sha256: meta.sha256, width: meta.width, height: meta.height, stored: true, load: () => engine.store.readOriginal(meta) };
  return (await engine.variant(original, spec, planned)).bytes;
}
