import { type Engine, type ImageSpec, type LockEntry, type OriginalMeta, originalKey } from "@imagegen/core";

/** One candidate of an image (SPEC §13): an original made for its key. */
export interface Candidate {
  /** 1-based, oldest first: what `imagegen approve --candidate n` and the page's keys 1–9 name. */
  number: number;
  sha256: string;
  /** `undefined` when neither the local nor the remote store has it. */
  meta: OriginalMeta | undefined;
  pinned: boolean;
  approved: boolean;
  pending: boolean;
}

/**
 * Every candidate of a spec's key: those of the local store, and those the lock names (the pin and
 * the pending ones), downloaded from the remote store when only it has them. Oldest first.
 */
export async function listCandidates(engine: Engine, spec: ImageSpec, locked: LockEntry | undefined): Promise<Candidate[]> {
  const key = originalKey(spec.generation);
  const metas = await engine.store.candidates(key).catch(() => [] as OriginalMeta[]);
  const named = [locked?.sha256, ...(locked?.pending ?? [])].filter((sha256): sha256 is string => sha256 !== undefined);
  const missing: string[] = [];
  for (const sha256 of named) {
    if (metas.some((meta) => meta.sha256 === sha256)) continue;
    const fetched = await engine.candidate(spec, sha256).catch(() => undefined);
    if (fetched) metas.push(fetched);
    else missing.push(sha256);
  }
  metas.sort((a, b) => compare(a.createdAt, b.createdAt) || compare(a.sha256, b.sha256));
  const all = [...metas.map((meta) => ({ sha256: meta.sha256, meta })), ...missing.map((sha256) => ({ sha256, meta: undefined }))];
  return all.map(({ sha256, meta }, i) => ({
    number: i + 1,
    sha256,
    meta,
    pinned: locked?.sha256 === sha256,
    approved: locked?.approved === sha256 && locked.sha256 === sha256,
    pending: locked?.pending?.includes(sha256) ?? false,
  }));
}

/** `--candidate`: a number as listed, or a sha256 prefix of 6 or more hex digits; the problem otherwise. */
export function findCandidate(candidates: Candidate[], wanted: string): Candidate | string {
  const byNumber = /^\d+$/.test(wanted) ? candidates.find((candidate) => candidate.number === Number(wanted)) : undefined;
  const bySha = /^[0-9a-f]{6,64}$/.test(wanted) ? candidates.filter((candidate) => candidate.sha256.startsWith(wanted)) : [];
  const found = byNumber ?? (bySha.length === 1 ? bySha[0] : undefined);
  if (found) return found.meta ? found : `candidate ${found.number} (sha256 ${found.sha256.slice(0, 12)}…) is in neither store; \`imagegen pull\` downloads it`;
  return `no candidate ${JSON.stringify(wanted)}: ${describeCandidates(candidates)}`;
}

/** `1 (pinned) 3f9a1c2b…, 2 (pending) 0b7e…`: the numbers to choose from. */
export function describeCandidates(candidates: Candidate[]): string {
  if (candidates.length === 0) return "it has no candidates";
  return candidates
    .map((candidate) => {
      const tags = [candidate.pinned && "pinned", candidate.approved && "approved", candidate.pending && "pending"].filter(Boolean);
      return `${candidate.number}${tags.length > 0 ? ` (${tags.join(", ")})` : ""} ${candidate.sha256.slice(0, 12)}…`;
    })
    .join(", ");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
