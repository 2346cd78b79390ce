import { type AuditedImage, auditImages, formatPrice, inputRecords, priceJson, reviewState, truncate } from "@imagegen/core";
import { orphanJson } from "./orphans.js";
import { type Output, locationJson } from "./output.js";
import { type CommonFlags, openProject, reportDiscoveryErrors, quietLogger } from "./project.js";
import { formatTable } from "./table.js";

/** `imagegen list`: every image in use (and every orphaned entry), where it is used, its key, status, review state, size and price. */
export async function listCommand(flags: CommonFlags, out: Output): Promise<number> {
  const project = await openProject(flags, out, quietLogger);
  const { options, discovery } = project;
  const audit = await auditImages(discovery.specs, { ...options, verifyBytes: false });

  if (flags.json) {
    out.json({
      images: audit.images.map((image) => ({
        key: image.key,
        name: manifestName(image),
        prompt: image.spec.generation.prompt,
        status: image.status,
        // SPEC §13: approved, unreviewed or pending; the pinned sha256, and the candidates waiting for a decision.
        review: reviewState(image.locked),
        ...(image.locked && { sha256: image.locked.sha256, pending: image.locked.pending ?? [] }),
        // Inputs as the lock records them: no absolute paths in machine output.
        generation: { ...image.spec.generation, inputs: inputRecords(image.spec.generation) },
        ...(image.meta && { width: image.meta.width, height: image.meta.height, bytes: image.meta.bytes, price: priceJson(image.meta.price, options.currency) }),
        locations: image.locations.map((location) => locationJson(out, location)),
      })),
      orphaned: audit.orphaned.map(orphanJson),
      errors: discovery.errors.map((error) => error.message),
    });
    return 0;
  }

  reportDiscoveryErrors(project, out);
  if (audit.images.length + audit.orphaned.length === 0) {
    out.print(`No images: no gen: imports in ${options.sources.join(", ")} and no manifests in ${options.manifests.join(", ")}.`);
    return 0;
  }
  const rows = audit.images.map((image) => {
    const name = manifestName(image);
    const more = image.locations.length > 1 ? ` +${image.locations.length - 1}` : "";
    return [
      name ?? `"${truncate(image.spec.prompt, 48)}"`,
      `${out.where(image.locations[0]!)}${more}`,
      image.key,
      image.status,
      image.locked ? reviewState(image.locked) : "—",
      image.meta ? `${image.meta.width}×${image.meta.height}` : `(${image.spec.generation.size})`,
      // What the stored original cost; nothing to show for one not made yet.
      image.meta ? formatPrice(image.meta.price) : "—",
    ];
  });
  for (const orphan of audit.orphaned) {
    rows.push([`"${truncate(orphan.prompt, 48)}"`, "—", orphan.key, orphan.inLock ? "orphaned" : "unused", "—", orphan.meta ? `${orphan.meta.width}×${orphan.meta.height}` : "—", orphan.meta ? formatPrice(orphan.meta.price) : "—"]);
  }
  for (const line of formatTable(["NAME / PROMPT", "USED IN", "KEY", "STATUS", "REVIEW", "SIZE", "PRICE"], rows)) out.print(line);
  return 0;
}

/** The manifest name of an image, when a manifest declares it. */
function manifestName(image: AuditedImage): string | undefined {
  return image.locations.find((location) => location.name !== undefined)?.name;
}
