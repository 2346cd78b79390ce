import { performance } from "node:perf_hooks";
import { ImagegenError, type LockEntry, type OriginalMeta, Store, keyCandidateOf, readLockfile, truncate } from "@imagegen/core";
import { type Output, UsageError, count, seconds } from "./output.js";
import { transferEach } from "./progress.js";
import { type CommonFlags, projectOptions, quietLogger, requireRemote } from "./project.js";

type Outcome = "uploaded" | "present";

/**
 * `imagegen push`: uploads every original of the local store that the remote store lacks (SPEC
 * §10), every candidate of every key, write-once, and records each in its key's index, so that
 * any machine finds it by key. A locked original that neither store holds fails by name. Exit 1
 * if any could not be uploaded.
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
  const lock = (await readLockfile(options.lockfilePath)).images;
  const keys = [...new Set([...(await store.keys()), ...Object.keys(lock)])].sort();
  let originals = 0;
  const results = await transferEach(
    out,
    keys,
    (key) => ({ key, prompt: lock[key]?.prompt ?? "" }),
    async (key): Promise<{ outcome: Outcome; line: string }> => {
      const candidates = await store.candidates(key);
      const locked: LockEntry | undefined = lock[key];
      const label = `"${truncate(locked?.prompt ?? candidates[0]?.prompt ?? "")}" (key ${key})`;
      originals += candidates.length;
      if (locked && !candidates.some((meta) => meta.sha256 === locked.sha256) && !(await remote.hasOriginal(locked.sha256))) {
        throw new ImagegenError(
          `${label} is locked but in neither ${out.relative(options.storeDir)}/ nor ${remote.url}; \`imagegen generate --force ${key}\` makes a new image`,
        );
      }
      const uploaded: OriginalMeta[] = [];
      for (const meta of candidates) {
        if (await remote.hasOriginal(meta.sha256)) continue;
        await remote.putOriginal(meta, await store.readOriginal(meta));
        uploaded.push(meta);
      }
      await remote.recordCandidates(key, candidates.map(keyCandidateOf));
      if (uploaded.length === 0) return { outcome: "present", line: `already there: ${label}` };
      const sizes = uploaded.map((meta) => `${meta.width}×${meta.height}`).join(", ");
      return { outcome: "uploaded", line: `uploaded ${label} ${uploaded.length > 1 ? `${uploaded.length} candidates, ` : ""}${sizes}` };
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
      `${remote.url}: ${tally("uploaded")} uploaded, ${tally("present")} already there, ${failed} failed (${count(keys.length, "image")}, ${count(originals, "original")}) · ${seconds(performance.now() - started)}`,
    );
  }
  return failed > 0 ? 1 : 0;
}
