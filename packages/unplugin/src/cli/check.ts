import path from "node:path";
import { type AuditedImage, auditImages, truncate } from "@imagegen/core";
import { type Output, count, locationJson } from "./output.js";
import { orphanJson, orphanPlace } from "./orphans.js";
import { type CommonFlags, openProject, quietLogger } from "./project.js";

/**
 * `imagegen check`: what a pull request would need, without calling any provider. Lists
 * missing, stale, unlocked and orphaned (locked but unused) entries, and bad imports or
 * manifests; exit 1 if any.
 */
export async function checkCommand(flags: CommonFlags, out: Output): Promise<number> {
  const { options, discovery } = await openProject(flags, out, quietLogger);
  const audit = await auditImages(discovery.specs, options);
  const pick = (status: AuditedImage["status"]) => audit.images.filter((image) => image.status === status);
  const missing = pick("missing");
  const stale = pick("stale");
  const unlocked = pick("unlocked");
  const errors = discovery.errors.map((error) => error.message);
  // An unused original only in the store is kept (a reverted prompt reuses it): noted, not a failure.
  const orphaned = audit.orphaned.filter((orphan) => orphan.inLock);
  const unused = audit.orphaned.filter((orphan) => !orphan.inLock);
  const clean = missing.length + stale.length + unlocked.length + orphaned.length + errors.length === 0;

  if (flags.json) {
    const entry = (image: AuditedImage) => ({
      key: image.key,
      prompt: image.spec.generation.prompt,
      size: image.spec.generation.size,
      ...(image.problem !== undefined && { problem: image.problem }),
      locations: image.locations.map((location) => locationJson(out, location)),
    });
    out.json({
      ok: clean,
      images: audit.images.length,
      missing: missing.map(entry),
      stale: stale.map(entry),
      unlocked: unlocked.map(entry),
      orphaned: orphaned.map(orphanJson),
      unused: unused.map(orphanJson),
      errors,
    });
    return clean ? 0 : 1;
  }

  for (const image of missing) out.print(`missing   ${imageLine(out, image)}`);
  for (const image of stale) out.print(`stale     ${imageLine(out, image)}: ${image.problem}`);
  for (const image of unlocked) out.print(`unlocked  ${imageLine(out, image)}`);
  for (const orphan of orphaned) out.print(`orphaned  "${truncate(orphan.prompt)}" key ${orphan.key} (${orphanPlace(out, options, orphan)})`);
  for (const orphan of unused) out.print(`unused    "${truncate(orphan.prompt)}" key ${orphan.key} (${orphanPlace(out, options, orphan)}; kept until \`imagegen prune\`)`);
  for (const error of errors) out.print(`error     ${error}`);

  if (clean) {
    out.print(`Clean: ${count(audit.images.length, "image")} in use, every one stored and locked.`);
    return 0;
  }
  const hints = [
    missing.length + unlocked.length > 0 && "`imagegen generate` makes missing images and locks unlocked ones",
    stale.some((image) => image.inputsChanged) && "`imagegen generate` remakes images whose input files changed",
    stale.some((image) => !image.inputsChanged) && "restore stale originals from git (or `imagegen generate --force <key>` for a new image)",
    orphaned.length > 0 && "`imagegen prune` removes orphaned entries",
  ].filter(Boolean);
  out.print(
    `Not clean: ${missing.length} missing, ${stale.length} stale, ${unlocked.length} unlocked, ${orphaned.length} orphaned, ${count(errors.length, "error")} (${count(audit.images.length, "image")} in use).`,
  );
  if (hints.length > 0) out.print(`${hints.join("; ")}.`);
  return 1;
}

function imageLine(out: Output, image: AuditedImage): string {
  const places = image.locations.map((location) => out.where(location)).join(", ");
  return `"${truncate(image.spec.generation.prompt)}" key ${image.key} — ${places}`;
}
