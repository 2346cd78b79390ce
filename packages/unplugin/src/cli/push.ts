import { performance } from "node:perf_hooks";
import { ImagegenError, Store, readLockfile, truncate } from "@imagegen/core";
import { type Output, UsageError, count, seconds } from "./output.js";
import { transferEach } from "./progress.js";
import { type CommonFlags, projectOptions, quietLogger, requireRemote } from "./project.js";

type Outcome = "uploaded" | "present";

/**
 * `imagegen push`: uploads every locked original that the remote store lacks (SPEC §10), each
 * checked against the lock first, write-once. Exit 1 if any could not be uploaded.
 */
export async function pushCommand(flags: CommonFlags, out: Output): Promise<number> {
  const started = performance.now();
  const options = await projectOptions(flags, out, quietLogger);
  const remote = requireRemote(options, "push");
  if (!remote.writable) {
    throw new UsageError(
      `${remote.url} is read-only in this run (IMAGEGEN_REMOTE_WRITE=0, remote.write: false or frozen mode): nothing was uploaded`,
    );
  }
  const store = new Store(options.storeDir);
  const entries = Object.entries((await readLockfile(options.lockfilePath)).images);
  const results = await transferEach(
    out,
    entries,
    ([key, locked]) => ({ key, prompt: locked.prompt }),
    async ([key, locked]): Promise<{ outcome: Outcome; line: string }> => {
      const label = `"${truncate(locked.prompt)}" (key ${key})`;
      if (await remote.hasOriginal(locked.sha256)) return { outcome: "present", line: `already there: ${label}` };
      const meta = await store.readMeta(key);
      if (!meta) {
        throw new ImagegenError(
          `${label} is locked but in neither ${out.relative(options.storeDir)}/ nor ${remote.url}; \`imagegen generate --force ${key}\` makes a new image`,
        );
      }
      if (meta.sha256 !== locked.sha256) {
        throw new ImagegenError(`${label}: the stored original is not the one in the lock; not uploaded (\`imagegen check\` says more)`);
      }
      await remote.putOriginal(meta, await store.readOriginal(meta));
      return { outcome: "uploaded", line: `uploaded ${label} ${meta.width}×${meta.height}` };
    },
  );

  const tally = (outcome: Outcome | "failed") => results.filter((result) => result.outcome === outcome).length;
  const failed = tally("failed");
  if (flags.json) {
    out.json({
      ok: failed === 0,
      remote: remote.url,
      uploaded: tally("uploaded"),
      present: tally("present"),
      failed,
      durationMs: Math.round(performance.now() - started),
      images: results,
    });
  } else {
    out.print(
      `${remote.url}: ${tally("uploaded")} uploaded, ${tally("present")} already there, ${failed} failed (${count(entries.length, "locked original")}) · ${seconds(performance.now() - started)}`,
    );
  }
  return failed > 0 ? 1 : 0;
}
