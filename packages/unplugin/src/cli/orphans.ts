import path from "node:path";
import type { OrphanedEntry, ResolvedOptions } from "@imagegen/core";
import type { Output } from "./output.js";

/** Where an orphaned entry sits (`in imagegen.lock.json and .imagegen/, used nowhere`), for check, list and prune. */
export function orphanPlace(out: Output, options: ResolvedOptions, orphan: OrphanedEntry): string {
  const places = [
    orphan.inLock && path.basename(options.lockfilePath),
    orphan.inStore && `${out.relative(options.storeDir)}/`,
  ].filter(Boolean);
  return `in ${places.join(" and ")}, used nowhere`;
}

/** An orphaned entry in `--json` output. */
export function orphanJson(orphan: OrphanedEntry) {
  return { key: orphan.key, prompt: orphan.prompt, inLock: orphan.inLock, inStore: orphan.inStore };
}
