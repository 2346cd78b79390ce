import { type DiscoveredSpec, Engine, type LockEntry, readLockfile, reviewState } from "@imagegen/core";
import { type Candidate, describeCandidates, findCandidate, listCandidates } from "../review/candidates.js";
import { findImage, nameOf } from "./image-target.js";
import { type Output, UsageError, count } from "./output.js";
import { type CommonFlags, openProject, quietLogger } from "./project.js";

export interface ApproveFlags extends CommonFlags {
  /** A manifest image name or a key; absent with `all`. */
  target?: string;
  /** A candidate's number (as `imagegen review` and `imagegen reroll` list them) or a sha256 prefix. */
  candidate?: string;
  /** Every unreviewed image in use (none that is pending: those need a choice). */
  all?: boolean;
}

/**
 * `imagegen approve <name|key> [--candidate n]`: a person approves an image (SPEC §13). The
 * candidate is pinned in the lock and approved, marked chosen in the store (and in the remote
 * index when the remote is writable); without `--candidate`, the pinned one is approved. A pending
 * image needs `--candidate`. `--all` approves every unreviewed image that is not pending.
 */
export async function approveCommand(flags: ApproveFlags, out: Output): Promise<number> {
  if (flags.all ? flags.target !== undefined || flags.candidate !== undefined : flags.target === undefined) {
    throw new UsageError("give one image (a manifest name or a key), or --all without a name or --candidate");
  }
  const { options, discovery } = await openProject(flags, out, quietLogger);
  // Frozen: approving never pays for anything; the remote is written as configured.
  const engine = new Engine({ ...options, frozen: true });
  const lock = (await readLockfile(options.lockfilePath)).images;
  const targets = flags.all ? discovery.specs.filter((image) => lock[image.key] && reviewState(lock[image.key]) === "unreviewed") : [findImage(discovery.specs, flags.target!, "approve")];
  const skipped = flags.all ? discovery.specs.filter((image) => reviewState(lock[image.key]) === "pending") : [];

  const approved: { image: DiscoveredSpec; candidate: Candidate; already: boolean }[] = [];
  for (const image of targets) {
    const locked: LockEntry | undefined = lock[image.key];
    const candidates = await listCandidates(engine, image.spec, locked);
    const candidate = chooseCandidate(image, locked, candidates, flags.candidate);
    const already = candidate.pinned && candidate.approved && !locked?.pending?.length;
    if (!already) await engine.choose(candidate.meta!, { approve: true });
    approved.push({ image, candidate, already });
  }

  if (flags.json) {
    out.json({
      ok: true,
      approved: approved.map(({ image, candidate, already }) => ({ key: image.key, prompt: image.spec.prompt, candidate: candidate.number, sha256: candidate.sha256, already })),
      pending: skipped.map((image) => ({ key: image.key, prompt: image.spec.prompt })),
    });
    return 0;
  }
  for (const { image, candidate, already } of approved) {
    out.print(`${already ? "already approved" : "approved"} ${nameOf(image)}: candidate ${candidate.number}, sha256 ${candidate.sha256.slice(0, 12)}…`);
  }
  for (const image of skipped) out.print(`pending ${nameOf(image)}: choose one with \`imagegen approve ${image.key} --candidate <n>\`, or \`imagegen review\``);
  if (flags.all) out.print(`Approved ${count(approved.length, "image")}${skipped.length > 0 ? `; ${skipped.length} pending left to choose` : ""}.`);
  else if (!approved[0]!.already) out.print(`${out.relative(options.lockfilePath)} pins and approves it.`);
  return 0;
}

/** The candidate to approve: the one asked for, else the pinned one (refused while others are pending). */
function chooseCandidate(image: DiscoveredSpec, locked: LockEntry | undefined, candidates: Candidate[], wanted: string | undefined): Candidate {
  if (wanted !== undefined) {
    const found = findCandidate(candidates, wanted);
    if (typeof found === "string") throw new UsageError(`${nameOf(image)}: ${found}`);
    return found;
  }
  if (locked?.pending?.length) {
    throw new UsageError(
      `${nameOf(image)} has ${count(locked.pending.length, "pending candidate")}: choose one with --candidate <n> (${describeCandidates(candidates)}), or \`imagegen reject\` to keep the pinned one`,
    );
  }
  const pinned = locked ? candidates.find((candidate) => candidate.pinned) : candidates.at(-1);
  if (!pinned?.meta) throw new UsageError(`${nameOf(image)} has no original ${locked ? "in the stores (`imagegen pull`)" : "yet (`imagegen generate`)"}`);
  return pinned;
}
