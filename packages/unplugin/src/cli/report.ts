import path from "node:path";
import { Engine, formatTotal, totalJson, totalOf } from "@imagegen/core";
import { buildReview, renderAsset } from "../review/review-data.js";
import { pageAsset, reviewHtml } from "../review/review-html.js";
import { type Output, count } from "./output.js";
import { type CommonFlags, openProject, reportDiscoveryErrors, quietLogger } from "./project.js";
import { openReportFolder } from "./report-folder.js";

export interface ReportFlags extends CommonFlags {
  /** Folder of the page; relative to the current directory. */
  out?: string;
}

/**
 * `imagegen report`: the review page (SPEC §13), read-only, as static files in `imagegen-report/`:
 * every image in use with every candidate at each crop it ships with, openable from `file://`
 * (what a CI job uploads as an artifact). Calls no provider.
 */
export async function reportCommand(flags: ReportFlags, out: Output): Promise<number> {
  const project = await openProject(flags, out, quietLogger);
  const { options, discovery } = project;
  if (!flags.json) reportDiscoveryErrors(project, out);
  const engine = new Engine({ ...options, frozen: true });
  const { data, assets, inUse } = await buildReview(engine, discovery, { mode: "report", clean: (text) => out.clean(text) });
  const outDir = path.resolve(flags.out ?? path.join(options.root, "imagegen-report"));
  const folder = await openReportFolder(outDir);

  // Every preview through the render pool at once; one that cannot be made (a damaged original) is left out.
  const written = new Set<string>();
  await Promise.all(
    [...assets].map(async ([name, asset]) => {
      const bytes = await renderAsset(engine, asset).catch(() => undefined);
      if (!bytes) return;
      await folder.write(`images/${name}`, bytes);
      written.add(`images/${name}`);
    }),
  );
  for (const image of data.images) {
    for (const candidate of image.candidates) candidate.previews = candidate.previews.map((picture) => (picture && written.has(picture.src) ? picture : undefined));
    for (const input of image.inputs) if (input.picture && !written.has(input.picture.src)) delete input.picture;
  }
  for (const name of ["review-page.js", "review-page.css"] as const) await folder.write(name, await pageAsset(name));
  const page = path.join(outDir, "index.html");
  await folder.write("index.html", out.clean(reviewHtml(data)));
  await folder.finish();

  const candidates = data.images.reduce((sum, image) => sum + image.candidates.length, 0);
  // What the originals in use cost, and every candidate the store keeps (re-rolls and unused ones too).
  const { store } = engine;
  const kept = totalOf((await Promise.all((await store.keys()).map((key) => store.candidates(key).catch(() => [])))).flat().map((meta) => meta.price), options.currency);
  if (flags.json) {
    out.json({ ok: true, page: out.relative(page), images: data.images.length, candidates, previews: written.size, unused: data.unused.length, cost: { inUse: totalJson(inUse), kept: totalJson(kept) } });
  } else {
    out.print(
      `Wrote ${out.relative(page)}: ${count(data.images.length, "image")}, ${count(candidates, "candidate")}, ${count(written.size, "preview")}${data.unused.length > 0 ? `, ${data.unused.length} not in use` : ""}.`,
    );
    out.print(`The originals in use cost ${formatTotal(inUse)}; every candidate the store keeps, ${formatTotal(kept)} (docs/cost.md).`);
  }
  return 0;
}
