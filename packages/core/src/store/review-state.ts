import { sha256Hex } from "../spec/key.js";
import type { LockEntry } from "./lockfile.js";

/**
 * The review state of an image in use (SPEC §13), read from its lock entry:
 * - `approved`: a person approved the original the lock pins;
 * - `pending`: new candidates wait for a decision (`imagegen reroll`);
 * - `unreviewed`: pinned, but nobody approved it (made by a build, by `generate`, by CI), or not locked yet.
 */
export type ReviewState = "approved" | "unreviewed" | "pending";

export const REVIEW_STATES: readonly ReviewState[] = ["approved", "unreviewed", "pending"];

export function reviewState(entry: LockEntry | undefined): ReviewState {
  if (entry?.pending?.length) return "pending";
  return entry?.approved !== undefined && entry.approved === entry.sha256 ? "approved" : "unreviewed";
}

/**
 * A short fingerprint of a lock entry as a page or a command saw it: a change made against an
 * older one is refused rather than applied over what another tab (or a `git pull`) wrote.
 */
export function entryRevision(entry: LockEntry | undefined): string {
  // By value, whatever the order of its fields: as read from the file, or as just made.
  return entry ? sha256Hex(JSON.stringify(entry, (_key, value: unknown) => (isPlainObject(value) ? sortedFields(value) : value))).slice(0, 16) : "none";
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sortedFields(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, value[key]]));
}

/**
 * The entry once a person chose `chosen` (a re-pin, approved or not): the candidate leaves the
 * pending list; the others stay pending only when the choice does not approve.
 */
export function withChoice(locked: LockEntry | undefined, chosen: LockEntry, approve: boolean): LockEntry {
  const approved = approve || locked?.approved === chosen.sha256 ? chosen.sha256 : undefined;
  const pending = approve ? [] : (locked?.pending ?? []).filter((sha256) => sha256 !== chosen.sha256);
  return withReview(chosen, approved, pending);
}

/**
 * The entry re-pinned without a person's choice (a build locking what it stored, `generate
 * --force`): pending candidates stay, and the approval only if it is of these very bytes.
 */
export function withAutomaticPin(locked: LockEntry | undefined, pinned: LockEntry): LockEntry {
  const approved = locked?.approved === pinned.sha256 ? pinned.sha256 : undefined;
  return withReview(pinned, approved, (locked?.pending ?? []).filter((sha256) => sha256 !== pinned.sha256));
}

/** The entry with new candidates waiting for a decision (the pin and its approval stay). */
export function withPending(locked: LockEntry, sha256s: string[]): LockEntry {
  const pending = [...(locked.pending ?? [])];
  for (const sha256 of sha256s) if (sha256 !== locked.sha256 && !pending.includes(sha256)) pending.push(sha256);
  return withReview(locked, locked.approved, pending);
}

/**
 * `imagegen reject`: the pending candidates are declined (they stay in the stores) and the pin
 * keeps its state; an image with none pending loses its approval, so the gate fails until another is approved.
 */
export function rejected(locked: LockEntry): LockEntry {
  if (locked.pending?.length) return withReview(locked, locked.approved, []);
  return withReview(locked, undefined, []);
}

function withReview(entry: LockEntry, approved: string | undefined, pending: string[]): LockEntry {
  const { approved: _approved, pending: _pending, ...rest } = entry;
  return { ...rest, ...(approved !== undefined && { approved }), ...(pending.length > 0 && { pending }) };
}
