import { DerivedCache } from "@imagegen/core";
import { type Output, UsageError } from "./output.js";
import { type CommonFlags, projectOptions, quietLogger } from "./project.js";

/** `imagegen cache prune`: trims the derived cache to `cacheMaxBytes`, least recently used renditions first. */
export async function cacheCommand(action: string, flags: CommonFlags, out: Output): Promise<number> {
  if (action !== "prune") throw new UsageError(`unknown cache action "${action}"; actions: prune`);
  const options = await projectOptions(flags, out, quietLogger);
  const { removed, freedBytes, totalBytes = 0 } = await new DerivedCache(options.cacheDir).trim(options.cacheMaxBytes, { always: true });
  if (flags.json) {
    out.json({ ok: true, cacheDir: options.cacheDir, removed, freedBytes, totalBytes, maxBytes: options.cacheMaxBytes });
  } else {
    out.print(
      `Removed ${removed} rendition${removed === 1 ? "" : "s"} (${mebibytes(freedBytes)}) from ${out.relative(options.cacheDir)}: ` +
        `it holds ${mebibytes(totalBytes)} of its ${mebibytes(options.cacheMaxBytes)} cap (cacheMaxBytes).`,
    );
  }
  return 0;
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
