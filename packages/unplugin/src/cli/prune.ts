import { readdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { type DiscoveredSpec, type OrphanedEntry, Store, auditImages, removeStaleTempFiles, uncommittedOriginalKey, updateLockfile, truncate } from "@imagegen/core";
import { orphanJson, orphanPlace } from "./orphans.js";
import { type Output, UsageError, count } from "./output.js";
import { type CommonFlags, openProject, reportDiscoveryErrors, quietLogger } from "./project.js";

export interface PruneFlags extends CommonFlags {
  dryRun?: boolean;
  /** Also remove unused entries that the lock pins. */
  pruneLocked?: boolean;
  /** Remove exactly these unused entries (keys, or unique key prefixes of 6+ characters), locked or not. */
  keys?: string[];
}

/** Leftovers of killed writes younger than this may belong to a run still in progress. */
const LEFTOVER_AGE_MS = 60 * 60 * 1000;

/**
 * `imagegen prune`: removes store entries that nothing uses. An entry the lock pins is an original
 * that was paid for and that a config the CLI cannot see (plugin options) may still use: it is
 * removed only when named or with `--prune-locked`. Refuses while any import or manifest is
 * invalid: its images would look unused, and what was paid for would be deleted.
 */
export async function pruneCommand(flags: PruneFlags, out: Output): Promise<number> {
  const project = await openProject(flags, out, quietLogger);
  const { options, discovery } = project;
  if (discovery.errors.length > 0) {
    reportDiscoveryErrors(project, out);
    const message = `Nothing was pruned: fix the ${count(discovery.errors.length, "error")} above first (their images would look unused).`;
    if (flags.json) out.json({ ok: false, dryRun: Boolean(flags.dryRun), removed: [], kept: [], refused: message, errors: discovery.errors.map((e) => e.message) });
    else out.print(message);
    return 1;
  }

  const audit = await auditImages(discovery.specs, { ...options, verifyBytes: false });
  const named = flags.keys ?? [];
  const chosen = named.length > 0 ? pickByKey(audit.orphaned, discovery.specs, named) : undefined;
  const removed = chosen ?? audit.orphaned.filter((orphan) => !orphan.inLock || flags.pruneLocked);
  const kept = audit.orphaned.filter((orphan) => !removed.includes(orphan));
  let leftovers = 0;
  if (!flags.dryRun) {
    const store = new Store(options.storeDir);
    for (const orphan of removed.filter((o) => o.inStore)) await store.delete(orphan.key);
    const unlocked = new Set(removed.filter((o) => o.inLock).map((o) => o.key));
    if (unlocked.size > 0) {
      await updateLockfile(options.lockfilePath, (lock) => {
        for (const key of unlocked) delete lock.images[key];
      });
    }
    leftovers = (await removeStaleTempFiles(options.storeDir, LEFTOVER_AGE_MS)) + (await removeUncommittedBytes(options.storeDir, new Set(discovery.specs.map((s) => s.key))));
  }

  if (flags.json) {
    out.json({ ok: true, dryRun: Boolean(flags.dryRun), removed: removed.map(orphanJson), kept: kept.map(orphanJson), leftoverFiles: leftovers });
    return 0;
  }
  const verb = flags.dryRun ? "Would remove" : "Removed";
  for (const orphan of removed) out.print(`${verb} "${truncate(orphan.prompt)}" key ${orphan.key} (${orphanPlace(out, options, orphan)})`);
  // Only locked entries are kept without being named: nothing else is left unpruned.
  for (const orphan of kept) out.print(`Kept "${truncate(orphan.prompt)}" key ${orphan.key} (${orphanPlace(out, options, orphan)})`);
  const tail = leftovers > 0 ? `, and ${count(leftovers, "leftover file")} of interrupted writes` : "";
  out.print(
    audit.orphaned.length === 0
      ? `Nothing to prune: every stored and locked image is in use${tail}.`
      : removed.length === 0
        ? `Nothing ${flags.dryRun ? "would be" : "was"} removed${tail}.`
      : `${verb} ${count(removed.length, "image")} that nothing uses${tail}${flags.dryRun ? " (--dry-run: nothing was changed)" : ""}.`,
  );
  if (kept.length > 0) {
    out.print(
      `Kept ${count(kept.length, "locked image")} that nothing here uses: ${path.basename(options.lockfilePath)} pins ${kept.length === 1 ? "its original" : "their originals"} (paid for, and perhaps used through plugin options the CLI cannot see). ` +
        "Remove them by key (`imagegen prune <key>`) or all at once with `imagegen prune --prune-locked`.",
    );
  }
  return 0;
}

/** The unused entries named on the command line: each name is one unused key (or a unique prefix of 6+ characters). */
function pickByKey(orphaned: OrphanedEntry[], used: DiscoveredSpec[], names: string[]): OrphanedEntry[] {
  const picked = new Set<OrphanedEntry>();
  for (const name of names) {
    const matches = (key: string) => key === name || (name.length >= 6 && key.startsWith(name));
    const found = orphaned.filter((orphan) => matches(orphan.key));
    if (found.length === 1) {
      picked.add(found[0]!);
      continue;
    }
    if (found.length > 1) throw new UsageError(`${name} matches ${found.length} unused entries (keys ${found.map((o) => o.key).join(", ")}); give a key`);
    if (used.some((spec) => matches(spec.key))) throw new UsageError(`${name} is in use: only entries that nothing uses can be pruned`);
    throw new UsageError(`${name}: no unused entry has that key; \`imagegen prune --dry-run\` lists them`);
  }
  return [...picked];
}

/**
 * Image files without metadata: a generation killed between writing the bytes and the
 * metadata. Only old ones, and none whose key is in use (the next generate replaces it).
 */
async function removeUncommittedBytes(storeDir: string, used: Set<string>): Promise<number> {
  const names = await readdir(storeDir).catch(() => [] as string[]);
  const committed = new Set(names.filter((name) => name.endsWith(".json")));
  let removed = 0;
  for (const name of names) {
    const key = uncommittedOriginalKey(name, committed);
    if (key === undefined || used.has(key)) continue;
    const file = path.join(storeDir, name);
    const age = Date.now() - (await stat(file)).mtimeMs;
    if (age < LEFTOVER_AGE_MS) continue;
    await unlink(file).catch(() => {});
    removed++;
  }
  return removed;
}
