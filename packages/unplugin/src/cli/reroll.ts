import { Engine, type Logger, readLockfile, truncate } from "@imagegen/core";
import { describeCandidates, listCandidates } from "../review/candidates.js";
import { generationProblem } from "../review/review-data.js";
import { findImage } from "./image-target.js";
import { type Output, count, locationJson } from "./output.js";
import { createProgress } from "./progress.js";
import { type CommonFlags, openProject } from "./project.js";
import { countRequests } from "./request-count.js";

export interface RerollFlags extends CommonFlags {
  /** A manifest image name or a key (or a unique key prefix of 6+ characters). */
  target: string;
  /** How many new candidates. @default 1 */
  n?: number;
  maxGenerations?: number;
}

/**
 * `imagegen reroll <name|key> [--n N]`: N new candidates of one image (N paid generations, counted
 * by `maxGenerations`), stored and shared like any original. The lock keeps its pin and lists them
 * as pending: the image is `pending` until a person approves one (`imagegen approve`, `imagegen review`).
 */
export async function rerollCommand(flags: RerollFlags, out: Output): Promise<number> {
  const n = flags.n ?? 1;
  const logger: Logger = { info: () => {}, warn: (message) => out.note(`warning: ${message}`) };
  const project = await openProject(flags, out, logger);
  const { options, discovery } = project;
  const image = findImage(discovery.specs, flags.target, "reroll");
  const locked = (await readLockfile(options.lockfilePath)).images[image.key];
  const counter = { requests: 0 };
  const maxGenerations = flags.maxGenerations ?? options.maxGenerations;
  const engine = new Engine({ ...options, maxGenerations, provider: countRequests(options.provider, counter) });
  const label = `"${truncate(image.spec.prompt)}"`;

  const refusal =
    generationProblem(engine) ??
    (n > maxGenerations ? `${count(n, "new candidate")} of ${label} would need ${count(n, "paid generation")} but maxGenerations is ${maxGenerations}` : undefined) ??
    (!locked && !(await engine.store.readMeta(image.key).catch(() => undefined)) ? `${label} has no original yet: \`imagegen generate\` makes its first` : undefined);
  if (refusal) {
    if (flags.json) out.json({ ok: false, refused: `${refusal}: nothing was generated.`, apiRequests: 0 });
    else out.print(`${refusal}: nothing was generated.`);
    return 1;
  }

  // Only stored, not locked yet: it is locked first, so that the new ones are pending beside it.
  if (!locked) await engine.resolveOriginal(image.spec);
  const progress = createProgress(out, n);
  const made = await Promise.all(
    Array.from({ length: n }, () =>
      engine.newCandidate(image.spec).then(
        (meta) => {
          progress.tick(`new candidate of ${label} ${meta.width}×${meta.height}, sha256 ${meta.sha256.slice(0, 12)}…`);
          return meta;
        },
        (error: unknown) => {
          progress.tick(`failed: ${(error as Error).message}`);
          return undefined;
        },
      ),
    ),
  );
  progress.stop();
  const failed = made.filter((meta) => meta === undefined).length;
  const entry = (await readLockfile(options.lockfilePath)).images[image.key];
  const candidates = await listCandidates(engine, image.spec, entry);
  const name = image.locations.find((location) => location.name !== undefined)?.name ?? image.key;

  if (flags.json) {
    out.json({
      ok: failed === 0 && engine.notUploaded.length === 0,
      key: image.key,
      prompt: image.spec.prompt,
      made: made.filter((meta) => meta !== undefined).map((meta) => ({ sha256: meta.sha256, number: candidates.find((c) => c.sha256 === meta.sha256)?.number })),
      failed,
      notUploaded: engine.notUploaded.map(({ key, problem }) => ({ key, problem })),
      apiRequests: counter.requests,
      candidates: candidates.map(({ number, sha256, pinned, approved, pending }) => ({ number, sha256, pinned, approved, pending })),
      locations: image.locations.map((location) => locationJson(out, location)),
    });
  } else {
    for (const { problem } of engine.notUploaded) out.print(`not uploaded: ${problem} (\`imagegen push\` sends it later)`);
    out.print(`${label}: ${made.length - failed} new, ${failed} failed · ${count(counter.requests, "API request")}. Candidates: ${describeCandidates(candidates)}.`);
    if (made.length > failed) out.print(`It is pending until one is approved: \`imagegen review\`, or \`imagegen approve ${name} --candidate <n>\` (\`imagegen reject ${name}\` keeps the pinned one).`);
  }
  return failed > 0 || engine.notUploaded.length > 0 ? 1 : 0;
}
