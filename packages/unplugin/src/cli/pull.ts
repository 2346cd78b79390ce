import { performance } from "node:perf_hooks";
import { Engine, auditImages, truncate } from "@imagegen/core";
import { type Output, count, seconds } from "./output.js";
import { transferEach } from "./progress.js";
import { type CommonFlags, openProject, quietLogger, reportDiscoveryErrors, requireRemote } from "./project.js";

/**
 * `imagegen pull`: downloads every locked original in use that the local store lacks from the
 * remote store (SPEC §10), each checked against the lock's sha256, and the pending candidates the
 * lock lists (SPEC §13), so that `imagegen review` shows them. Calls no provider. Exit 1 if any
 * could not be downloaded.
 */
export async function pullCommand(flags: CommonFlags, out: Output): Promise<number> {
  const started = performance.now();
  const project = await openProject(flags, out, quietLogger);
  const { options, discovery } = project;
  const remote = requireRemote(options, "pull");
  reportDiscoveryErrors(project, out);
  const audit = await auditImages(discovery.specs, { ...options, verifyBytes: false });
  const wanted = audit.images.filter((image) => image.status === "missing" && image.locked);
  // Frozen: a pull never pays for anything, whatever the lock says.
  const engine = new Engine({ ...options, frozen: true });
  // The pending candidates the lock lists and the local store lacks: a reviewer pulls, then reviews.
  const pending = (
    await Promise.all(
      audit.images.flatMap((image) =>
        (image.locked?.pending ?? []).map(async (sha256) => ((await engine.store.readMeta(image.key, sha256).catch(() => undefined)) ? [] : [{ image, sha256 }])),
      ),
    )
  ).flat();
  const jobs: { image: (typeof wanted)[number]; sha256?: string }[] = [...wanted.map((image) => ({ image })), ...pending];
  const results = await transferEach(
    out,
    jobs,
    ({ image }) => ({ key: image.key, prompt: image.spec.prompt }),
    async ({ image, sha256 }) => {
      if (sha256 !== undefined) {
        if (!(await engine.candidate(image.spec, sha256))) throw new Error(`the pending candidate ${sha256.slice(0, 12)}… of "${truncate(image.spec.prompt)}" is not in ${remote.url}`);
        return { outcome: "downloaded" as const, line: `downloaded a pending candidate of "${truncate(image.spec.prompt)}" (sha256 ${sha256.slice(0, 12)}…)` };
      }
      const original = await engine.resolveOriginal(image.spec);
      await (original.ready ?? original.load)();
      return {
        outcome: "downloaded" as const,
        line: `downloaded "${truncate(image.spec.prompt)}" ${original.width}×${original.height} (${out.where(image.locations[0]!)})`,
      };
    },
    remote.concurrency,
  );

  const downloaded = results.filter((result) => result.outcome === "downloaded").length;
  const failed = results.length - downloaded;
  const present = audit.images.filter((image) => image.status !== "missing").length;
  if (flags.json) {
    out.json({
      ok: failed === 0,
      remote: remote.url,
      downloaded,
      present,
      failed,
      durationMs: Math.round(performance.now() - started),
      images: results,
    });
  } else {
    out.print(
      `${remote.url}: ${downloaded} downloaded, ${present} already stored, ${failed} failed (${count(audit.images.length, "image")} in use) · ${seconds(performance.now() - started)}`,
    );
  }
  return failed > 0 ? 1 : 0;
}
