import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  type AuditedImage,
  type ImageSpec,
  type InputImage,
  type OutputParams,
  type OriginalMeta,
  type OrphanedEntry,
  Store,
  auditImages,
  formatPrice,
  formatTotal,
  renderVariants,
  totalJson,
  totalOf,
} from "@imagegen/core";

import { type Output, count } from "./output.js";
import { type CommonFlags, openProject, reportDiscoveryErrors, quietLogger } from "./project.js";
import { openReportFolder } from "./report-folder.js";
import { type ReportCard, renderReportPage } from "./report-page.js";

export interface ReportFlags extends CommonFlags {
  /** Folder of the page; relative to the current directory. */
  out?: string;
}

const THUMBNAIL_WIDTH = 480;
const INPUT_THUMBNAIL_WIDTH = 120;
const THUMBNAIL_OUTPUT: OutputParams = {
  widths: [THUMBNAIL_WIDTH],
  formats: ["webp"],
  quality: 75,
  aspect: undefined,
  fit: "inside",
  placeholder: "none",
};

/**
 * `imagegen report`: a static page of every image (thumbnail, prompt, parameters, pixel size,
 * where it is used) in `imagegen-report/`, for a reviewer to open beside a pull request.
 */
export async function reportCommand(flags: ReportFlags, out: Output): Promise<number> {
  const project = await openProject(flags, out, quietLogger);
  const { options, discovery } = project;
  if (!flags.json) reportDiscoveryErrors(project, out);
  const audit = await auditImages(discovery.specs, options);
  const store = new Store(options.storeDir);
  const outDir = path.resolve(flags.out ?? path.join(options.root, "imagegen-report"));
  const folder = await openReportFolder(outDir);

  const thumbnail = async (meta: OriginalMeta | undefined) => {
    if (!meta) return undefined;
    const bytes = await store.readOriginal(meta).catch(() => undefined);
    if (!bytes) return undefined;
    const [variant] = (
      await renderVariants(bytes, THUMBNAIL_OUTPUT)
    ).variants;
    const file = `${meta.key}.webp`;
    await folder.write(`images/${file}`, variant!.bytes);
    return { src: `images/${file}`, width: variant!.width, height: variant!.height };
  };

  // Each input file once, however many images use it: a small picture beside each result.
  const inputThumbnails = new Map<string, Promise<ReportCard["thumbnail"]>>();
  const inputThumbnail = (input: InputImage) => {
    let pending = inputThumbnails.get(input.sha256!);
    if (!pending) {
      pending = (async () => {
        const file = `input-${input.sha256!.slice(0, 20)}.webp`;
        const [variant] = (await renderVariants(await readFile(input.file), { ...THUMBNAIL_OUTPUT, widths: [INPUT_THUMBNAIL_WIDTH] })).variants;
        await folder.write(`images/${file}`, variant!.bytes);
        return { src: `images/${file}`, width: variant!.width, height: variant!.height };
      })().catch(() => undefined);
      inputThumbnails.set(input.sha256!, pending);
    }
    return pending;
  };
  const inputCards = (spec: ImageSpec) =>
    Promise.all(
      (spec.generation.inputs ?? []).map(async (input) => ({
        role: input.role,
        path: input.path,
        sha256: input.sha256!,
        thumbnail: await inputThumbnail(input),
      })),
    );

  const imageCard = async (image: AuditedImage): Promise<ReportCard> => ({
    key: image.key,
    status: image.status,
    name: image.locations.find((location) => location.name !== undefined)?.name,
    prompt: image.spec.prompt,
    finalPrompt: image.spec.generation.prompt,
    problem: image.problem && out.clean(image.problem),
    thumbnail: image.status === "stale" ? undefined : await thumbnail(image.meta),
    parameters: specParameters(image.spec, image.meta),
    inputs: await inputCards(image.spec),
    size: image.meta && `${image.meta.width}×${image.meta.height}`,
    usedIn: image.locations.map((location) => ({
      where: out.where(location),
      detail: location.name !== undefined ? `image "${location.name}"` : location.id,
    })),
  });
  const orphanCard = async (orphan: OrphanedEntry): Promise<ReportCard> => {
    const entry = orphan.meta ?? orphan.locked!;
    return {
      key: orphan.key,
      status: orphan.inLock ? "orphaned" : "unused",
      name: undefined,
      prompt: orphan.prompt,
      finalPrompt: orphan.prompt,
      problem: undefined,
      thumbnail: await thumbnail(orphan.meta),
      parameters: [
        ["model", entry.model],
        ["size", entry.size],
        ["temperature", String(entry.temperature)],
        ["topP", String(entry.topP)],
        ...(entry.variant ? [["variant", entry.variant] as [string, string]] : []),
        ...(orphan.meta ? [["price", formatPrice(orphan.meta.price)] as [string, string]] : []),
      ],
      size: `${entry.width}×${entry.height}`,
      inputs: (entry.inputs ?? []).map((input) => ({ ...input, thumbnail: undefined })),
      usedIn: [],
    };
  };

  const images = await Promise.all(audit.images.map(imageCard));
  const orphaned = await Promise.all(audit.orphaned.map(orphanCard));
  const tally = (status: string) => images.filter((image) => image.status === status).length;
  const html = renderReportPage({
    title: `imagegen report: ${path.basename(options.root)}`,
    generatedAt: new Date().toISOString(),
    summary: [
      ["images in use", images.length],
      ["stored", tally("ok") + tally("unlocked")],
      ["missing", tally("missing")],
      ["stale", tally("stale")],
      ["not in use", orphaned.length],
    ],
    images,
    orphaned,
  });
  const page = path.join(outDir, "index.html");
  await folder.write("index.html", out.clean(html));
  await folder.finish();

  const thumbnails = [...images, ...orphaned].filter((card) => card.thumbnail).length;
  // What the originals in use cost, and every candidate the store keeps (re-rolls and unused ones too).
  const inUse = totalOf(audit.images.flatMap((image) => (image.meta ? [image.meta.price] : [])), options.currency);
  const kept = totalOf((await Promise.all((await store.keys()).map((key) => store.candidates(key).catch(() => [])))).flat().map((meta) => meta.price), options.currency);
  if (flags.json) {
    out.json({ ok: true, page: out.relative(page), images: images.length, orphaned: orphaned.length, thumbnails, cost: { inUse: totalJson(inUse), kept: totalJson(kept) } });
  } else {
    out.print(`Wrote ${out.relative(page)}: ${count(images.length, "image")}, ${thumbnails} with a thumbnail${orphaned.length > 0 ? `, ${orphaned.length} not in use` : ""}.`);
    out.print(`The originals in use cost ${formatTotal(inUse)}; every candidate the store keeps, ${formatTotal(kept)} (docs/cost.md).`);
  }
  return 0;
}

function specParameters(spec: ImageSpec, meta: OriginalMeta | undefined): [string, string][] {
  const { generation, output } = spec;
  const rows: [string, string | undefined][] = [
    ["model", generation.model],
    ["size", generation.size],
    ["temperature", String(generation.temperature)],
    ["topP", String(generation.topP)],
    ["variant", generation.variant || undefined],
    ["style", spec.style],
    ["widths", output.widths?.join(", ") ?? "original"],
    ["formats", output.formats.join(", ")],
    ["aspect", output.aspect && `${output.aspect.width}:${output.aspect.height}`],
    ["fit", output.aspect ? output.fit : undefined],
    ["quality", output.quality === undefined ? undefined : String(output.quality)],
    ["placeholder", output.placeholder === "none" ? undefined : output.placeholder],
    ["alt", spec.alt !== spec.prompt ? spec.alt : undefined],
    ["provider", meta && `${meta.provider}${meta.recordId ? ` (record ${meta.recordId})` : ""}`],
    ["price", meta && formatPrice(meta.price)],
    ["created", meta?.createdAt],
    ["sha256", meta?.sha256],
  ];
  return rows.filter((row): row is [string, string] => row[1] !== undefined);
}
