import { readdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { Store, auditImages, removeStaleTempFiles, updateLockfile, truncate } from "@imagegen/core";
import { orphanJson, orphanPlace } from "./orphans.js";
import { type Output, count } from "./output.js";
import { type CommonFlags, openProject, reportDiscoveryErrors, quietLogger } from "./project.js";

export interface PruneFlags extends CommonFlags {
  dryRun?: boolean;
}

/** Leftovers of killed writes younger than this may belong to a run still in progress. */
const LEFTOVER_AGE_MS = 60 * 60 * 1000;

/**
 * `imagegen prune`: removes lock and store entries that nothing uses. Refuses while any import
 * or manifest is invalid: its images would look unused, and what was paid for would be deleted.
 */
export async function pruneCommand(flags: PruneFlags, out: Output): Promise<number> {
  const project = await openProject(flags, out, quietLogger);
  const { options, discovery } = project;
  if (discovery.errors.length > 0) {
    reportDiscoveryErrors(project, out);
    const message = `Nothing was pruned: fix the ${count(discovery.errors.length, "error")} above first (their images would look unused).`;
    if (flags.json) out.json({ ok: false, dryRun: Boolean(flags.dryRun), removed: [], refused: message, errors: discovery.errors.map((e) => e.message) });
    else out.print(message);
    return 1;
  }

  const audit = await auditImages(discovery.specs, { ...options, verifyBytes: false });
  const orphaned = audit.orphaned;
  let leftovers = 0;
  if (!flags.dryRun) {
    const store = new Store(options.storeDir);
    for (const orphan of orphaned.filter((o) => o.inStore)) await store.delete(orphan.key);
    const unused = new Set(orphaned.filter((o) => o.inLock).map((o) => o.key));
    if (unused.size > 0) {
      await updateLockfile(options.lockfilePath, (lock) => {
        for (const key of unused) delete lock.images[key];
      });
    }
    leftovers = (await removeStaleTempFiles(options.storeDir, LEFTOVER_AGE_MS)) + (await removeUncommittedBytes(options.storeDir, new Set(discovery.specs.map((s) => s.key))));
  }

  if (flags.json) {
    out.json({ ok: true, dryRun: Boolean(flags.dryRun), removed: orphaned.map(orphanJson), leftoverFiles: leftovers });
    return 0;
  }
  const verb = flags.dryRun ? "Would remove" : "Removed";
  for (const orphan of orphaned) out.print(`${verb} "${truncate(orphan.prompt)}" key ${orphan.key} (${orphanPlace(out, options, orphan)})`);
  const tail = leftovers > 0 ? `, and ${count(leftovers, "leftover file")} of interrupted writes` : "";
  out.print(
    orphaned.length === 0
      ? `Nothing to prune: every stored and locked image is in use${tail}.`
      : `${verb} ${count(orphaned.length, "image")} that nothing uses${tail}${flags.dryRun ? " (--dry-run: nothing was changed)" : ""}.`,
  );
  return 0;
}

/**
 * Image files without metadata: a generation killed between writing the bytes and the
 * metadata. Only old ones, and none whose key is in use (the next generate replaces it).
 */
async function removeUncommittedBytes(storeDir: string, used: Set<string>): Promise<number> {
  const names = await readdir(storeDir).catch(() => [] as string[]);
  const committed = new Set(names.filter((n) => n.endsWith(".json")).map((n) => n.slice(0, -".json".length)));
  let removed = 0;
  for (const name of names) {
    const match = /^([0-9a-f]+)\.(png|jpg|webp|avif|gif|tiff)$/.exec(name);
    if (!match || committed.has(match[1]!) || used.has(match[1]!)) continue;
    const file = path.join(storeDir, name);
    const age = Date.now() - (await stat(file)).mtimeMs;
    if (age < LEFTOVER_AGE_MS) continue;
    await unlink(file).catch(() => {});
    removed++;
  }
  return removed;
}
