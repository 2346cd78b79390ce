import { performance } from "node:perf_hooks";
import { ImagegenError, type LockEntry, type OriginalMeta, Store, keyCandidateOf, readLockfile, truncate } from "@imagegen/core";
import { type Output, UsageError, count, seconds } from "./output.js";
import { transferEach } from "./progress.js";
import { type CommonFlags, projectOptions, quietLogger, requireRemote } from "./project.js";

type Outcome = "uploaded" | "present" | "repaired";

export interface PushFlags extends CommonFlags {
  /** Download every original the remote has, and replace those whose bytes do not match their sha256. */
  repair?: boolean;
}

/**
 * `imagegen push`: uploads every original of the local store that the remote store lacks (SPEC
 * §10), every candidate of every key, write-once, and records each in its key's index, so that
 * any machine finds it by key. An object whose bytes are missing is filled in; one whose bytes are
 * of the wrong size is named, and replaced with `--repair` (which also downloads and hashes every
 * other one). A locked original that neither store holds fails by name. Each original is read
 * only in its upload's turn (`remote.concurrency` at a time). Exit 1 if any could not be uploaded.
 */
export async function pushCommand(flags: PushFlags, out: Output): Promise<number> {
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
      let repaired = 0;
      for (const meta of candidates) {
        const state = await remote.originalState(meta.sha256);
        const corrupt = state === "bytes wrong size" || (flags.repair && state === "present" && (await remote.verifyOriginal(meta.sha256)) === false);
        if (corrupt && !flags.repair) {
          throw new ImagegenError(
            `${label}: ${remote.objectUrl(`originals/${meta.sha256}`)}… is on the remote with bytes of the wrong size; \`imagegen push --repair\` replaces it from ${out.relative(options.storeDir)}/`,
          );
        }
        if (state === "present" && !corrupt) continue;
        // Streamed from the file (checked against its sha256 first): a 4K original is not held whole.
        await remote.putOriginal(meta, await store.originalSource(meta), { replace: corrupt });
        if (corrupt) repaired++;
        else uploaded.push(meta);
      }
      await remote.recordCandidates(key, candidates.map(keyCandidateOf));
      if (repaired > 0) return { outcome: "repaired", line: `repaired ${label}: ${count(repaired, "original")} whose bytes on the remote did not match` };
      if (uploaded.length === 0) return { outcome: "present", line: `already there: ${label}` };
      const sizes = uploaded.map((meta) => `${meta.width}×${meta.height}`).join(", ");
      return { outcome: "uploaded", line: `uploaded ${label} ${uploaded.length > 1 ? `${uploaded.length} candidates, ` : ""}${sizes}` };
    },
    remote.concurrency,
  );

  const tally = (outcome: Outcome | "failed") => results.filter((result) => result.outcome === outcome).length;
  const failed = tally("failed");
  if (flags.json) {
    out.json({
      ok: failed === 0,
      remote: remote.url,
      uploaded: tally("uploaded"),
      present: tally("present"),
      repaired: tally("repaired"),
      failed,
      durationMs: Math.round(performance.now() - started),
      images: results,
    });
  } else {
    out.print(
      `${remote.url}: ${tally("uploaded")} uploaded, ${tally("present")} already there, ${tally("repaired") > 0 ? `${tally("repaired")} repaired, ` : ""}${failed} failed (${count(keys.length, "image")}, ${count(originals, "original")}) · ${seconds(performance.now() - started)}`,
    );
  }
  return failed > 0 ? 1 : 0;
}
