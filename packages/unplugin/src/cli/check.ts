import path from "node:path";
import {
  type AuditedImage,
  type OrphanedEntry,
  type RemoteStore,
  auditImages,
  formatPrice,
  formatTotal,
  needsGeneration,
  plannedGeneration,
  priceJson,
  reviewState,
  totalJson,
  totalOf,
  truncate,
} from "@imagegen/core";
import { type BaseLock, checkMarkdown, readBaseLock } from "./check-markdown.js";
import { type Output, count, locationJson } from "./output.js";
import { orphanJson, orphanPlace } from "./orphans.js";
import { type CommonFlags, openProject, quietLogger } from "./project.js";

export interface CheckFlags extends CommonFlags {
  /** A Markdown summary for `$GITHUB_STEP_SUMMARY` and a pull-request comment, instead of lines. */
  markdown?: boolean;
  /** The lock to compare with (a git ref, or a file): new and changed images are named against it. */
  base?: string;
}

/**
 * `imagegen check`: what a pull request would need, without calling any provider. Lists
 * missing, stale, unlocked and unpushed images, and bad imports or manifests (exit 1 if any);
 * with `review: "required"`, every image in use that nobody approved too (SPEC §13). Notes the
 * lock and store entries nothing uses, which are kept on purpose (exit 0), and pending candidates.
 */
export async function checkCommand(flags: CheckFlags, out: Output): Promise<number> {
  const { options, discovery } = await openProject(flags, out, quietLogger);
  const base: BaseLock | undefined = flags.base === undefined ? undefined : await readBaseLock(flags.base, options);
  const audit = await auditImages(discovery.specs, options);
  const pick = (status: AuditedImage["status"]) => audit.images.filter((image) => image.status === status);
  const notPushed = await originalsMissingFromRemote(options.remote, audit.images);
  // With a remote, a locked original that is only there is fine: builds and `imagegen pull` read it.
  const onlyRemote = options.remote ? pick("missing").filter((image) => image.locked && !notPushed.images.includes(image)) : [];
  const missing = pick("missing").filter((image) => !onlyRemote.includes(image));
  const stale = pick("stale");
  const unlocked = pick("unlocked");
  const errors = [...discovery.errors.map((error) => error.message), ...notPushed.errors];
  // What nothing uses is kept (a reverted prompt finds it by key, paying nothing): noted, not a failure.
  const unused = audit.orphaned;
  // Review states are of locked images: one that is missing or unlocked already fails as such.
  const reviewed = audit.images.filter((image) => image.locked);
  const pending = reviewed.filter((image) => reviewState(image.locked) === "pending");
  const unreviewed = reviewed.filter((image) => reviewState(image.locked) === "unreviewed");
  const required = options.review === "required";
  const notApproved = required ? pending.length + unreviewed.length : 0;
  const clean = missing.length + stale.length + unlocked.length + notPushed.images.length + errors.length + notApproved === 0;
  // What `imagegen generate` would pay for, and what it would cost (SPEC §14).
  const toGenerate = audit.images.filter(needsGeneration);
  const estimates = new Map(toGenerate.map((image) => [image, plannedGeneration(image.spec, options).estimate]));
  const estimate = totalOf([...estimates.values()], options.currency);
  const priced = (image: AuditedImage) => (estimates.has(image) ? ` · ${formatPrice(estimates.get(image))}` : "");

  if (flags.markdown) {
    out.print(
      checkMarkdown(out, {
        clean,
        images: audit.images,
        required,
        problems: { missing, stale, unlocked, "not uploaded": notPushed.images },
        pending,
        unreviewed,
        errors,
        ...(base && { base }),
      }),
    );
    return clean ? 0 : 1;
  }

  if (flags.json) {
    const entry = (image: AuditedImage) => ({
      key: image.key,
      prompt: image.spec.generation.prompt,
      size: image.spec.generation.size,
      ...(image.problem !== undefined && { problem: image.problem }),
      ...(estimates.has(image) && { estimate: priceJson(estimates.get(image), options.currency) }),
      locations: image.locations.map((location) => locationJson(out, location)),
    });
    out.json({
      ok: clean,
      images: audit.images.length,
      missing: missing.map(entry),
      stale: stale.map(entry),
      unlocked: unlocked.map(entry),
      review: {
        required,
        approved: reviewed.length - pending.length - unreviewed.length,
        unreviewed: unreviewed.map(entry),
        pending: pending.map((image) => ({ ...entry(image), candidates: image.locked!.pending! })),
      },
      ...(options.remote && { remote: options.remote.url, notInRemote: notPushed.images.map(entry), onlyInRemote: onlyRemote.length }),
      unused: unused.map(orphanJson),
      toGenerate: toGenerate.length,
      estimate: totalJson(estimate),
      errors,
    });
    return clean ? 0 : 1;
  }

  for (const image of missing) out.print(`missing   ${imageLine(out, image)}${priced(image)}`);
  for (const image of stale) out.print(`stale     ${imageLine(out, image)}: ${image.problem}${priced(image)}`);
  for (const image of unlocked) out.print(`unlocked  ${imageLine(out, image)}`);
  for (const image of notPushed.images) out.print(`not uploaded ${imageLine(out, image)}: locked, but not in ${options.remote!.url}`);
  for (const image of pending) out.print(`pending   ${imageLine(out, image)}: ${count(image.locked!.pending!.length, "new candidate")} to decide on (\`imagegen review\`, or \`imagegen approve ${image.key} --candidate <n>\`)`);
  if (required) for (const image of unreviewed) out.print(`unreviewed ${imageLine(out, image)}: nobody approved it (\`imagegen review\`, or \`imagegen approve ${image.key}\`)`);
  for (const orphan of unused) out.print(`unused    "${truncate(orphan.prompt)}" key ${orphan.key} (${orphanPlace(out, options, orphan)}; ${unusedFate(orphan)})`);
  for (const error of errors) out.print(`error     ${error}`);

  if (clean) {
    const remote = options.remote ? ` and in ${options.remote.url}${onlyRemote.length > 0 ? ` (${onlyRemote.length} only there)` : ""}` : "";
    out.print(`Clean: ${count(audit.images.length, "image")} in use, every one stored${remote} and locked${required ? " and approved" : ""}.`);
    return 0;
  }
  const hints = [
    missing.length + unlocked.length > 0 && "`imagegen generate` makes missing images and locks unlocked ones",
    stale.some((image) => image.inputsChanged) && "`imagegen generate` remakes images whose input files changed",
    stale.some((image) => !image.inputsChanged) && "restore stale originals from git (or `imagegen generate --force <key>` for a new image)",
    notPushed.images.length > 0 && "`imagegen push` uploads what is not uploaded",
    notApproved > 0 && "approve images in `imagegen review` (after `imagegen pull`) or with `imagegen approve <name|key>`, then commit the lock",
  ].filter(Boolean);
  out.print(
    `Not clean: ${missing.length} missing, ${stale.length} stale, ${unlocked.length} unlocked, ${options.remote ? `${notPushed.images.length} not uploaded, ` : ""}${required ? `${notApproved} not approved, ` : ""}${count(errors.length, "error")} (${count(audit.images.length, "image")} in use).`,
  );
  if (hints.length > 0) out.print(`${hints.join("; ")}.`);
  if (toGenerate.length > 0) out.print(`Estimated cost to generate ${toGenerate.length === 1 ? "it" : `the ${toGenerate.length}`}: ${formatTotal(estimate)}.`);
  return 1;
}

/** What becomes of an entry nothing uses: `generate` unlocks it, `prune` removes it from the store. */
function unusedFate(orphan: OrphanedEntry): string {
  if (orphan.inLock) return "`imagegen generate` drops it from the lock; the original stays";
  return "kept until `imagegen prune`";
}

function imageLine(out: Output, image: AuditedImage): string {
  const places = image.locations.map((location) => out.where(location)).join(", ");
  return `"${truncate(image.spec.generation.prompt)}" key ${image.key} — ${places}`;
}

/**
 * Locked images in use whose original the remote store lacks, its JSON and its bytes both looked at
 * (none without a remote); one whose bytes there are of the wrong size, and a remote that cannot be
 * read, are errors.
 */
async function originalsMissingFromRemote(
  remote: RemoteStore | undefined,
  images: AuditedImage[],
): Promise<{ images: AuditedImage[]; errors: string[] }> {
  if (!remote) return { images: [], errors: [] };
  const locked = images.filter((image) => image.locked);
  try {
    const states = await Promise.all(locked.map((image) => remote.originalState(image.locked!.sha256)));
    const corrupt = locked.filter((_, i) => states[i] === "bytes wrong size");
    return {
      images: locked.filter((_, i) => states[i] === "absent" || states[i] === "bytes missing"),
      errors: corrupt.map(
        (image) =>
          `"${truncate(image.spec.generation.prompt)}" key ${image.key}: its original on ${remote.url} has bytes of the wrong size; \`imagegen push --repair\` replaces it`,
      ),
    };
  } catch (error) {
    return { images: [], errors: [(error as Error).message] };
  }
}
