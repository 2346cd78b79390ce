import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { isNotFound, writeFileAtomic } from "./atomic-write.js";
import { ImagegenError } from "../errors.js";
import { withFileLock } from "./file-lock.js";
import type { OriginalKey } from "../spec/key.js";
import type { ParseError } from "jsonc-parser";
import { lineAndColumn } from "../spec/source-position.js";
import { type GenerationFields, IMAGE_SIZES, type ImageSize, generationFields } from "../spec/spec.js";
import { type InputRecord, inputRecordsProblem } from "./input-records.js";
import type { OriginalMeta } from "./store.js";

/** One original in use: what was asked for and the sha256 of what was stored. */
export interface LockEntry extends GenerationFields {
  sha256: string;
  width: number;
  height: number;
  /** The files an edit was made from: role, path relative to the root, sha256 (SPEC §12). */
  inputs?: InputRecord[];
  /**
   * The sha256 a person approved (SPEC §13). The image is approved only while it equals `sha256`:
   * anything that re-pins the key without a person's approval (a build, `generate --force`, a
   * merge that takes another side's `sha256`) leaves it unreviewed, never approved by accident.
   */
  approved?: string;
  /** New candidates nobody has decided on yet (`imagegen reroll`), oldest first: the image is pending. */
  pending?: string[];
}

/** `imagegen.lock.json`. */
export interface LockfileData {
  version: 1;
  images: Record<OriginalKey, LockEntry>;
}

/** Entry fields in the order they are written, so that diffs line up. */
// The review fields come last: an entry written before review existed keeps its bytes.
const ENTRY_FIELDS = ["prompt", "model", "size", "temperature", "topP", "variant", "aspect", "inputs", "sha256", "width", "height", "approved", "pending"] as const;

const FIX = "resolve it, or delete the file and run `imagegen generate` to rebuild it from the store";

/** The lockfile at `path`; an absent file is an empty lock. */
export async function readLockfile(path: string): Promise<LockfileData> {
  const text = await readText(path);
  return text === undefined ? emptyLockfile() : parseLockfile(text, path);
}

/** Sorted keys, fixed field order, 2-space indent, trailing newline: the same data always gives the same bytes. */
export function serializeLockfile(data: LockfileData): string {
  const images: Record<string, Record<string, unknown>> = {};
  for (const key of Object.keys(data.images).sort(compareCodeUnits)) {
    const entry = data.images[key]!;
    // An absent field (`inputs` of a plain generation) is left out, not written as null.
    images[key] = Object.fromEntries(ENTRY_FIELDS.filter((field) => entry[field] !== undefined).map((field) => [field, entry[field]]));
  }
  return `${JSON.stringify({ version: 1, images }, null, 2)}\n`;
}

/** The tail of the pending updates of each lockfile in this process. */
const queues = new Map<string, Promise<unknown>>();
/** The changes of each lockfile that wait for the update before them: they are written together. */
const waiting = new Map<string, PendingChange[]>();

interface PendingChange {
  change: (data: LockfileData) => void;
  resolve: (data: LockfileData) => void;
  reject: (error: unknown) => void;
  failed?: { error: unknown };
}

/**
 * Re-reads the lockfile, applies `change`, and writes it (atomically) only if its text changed.
 * Updates of one path run one after another, in one process (a queue) and across processes (a
 * lock file beside it, `.imagegen.lock.json.lock`), so none is lost to a concurrent one. Changes
 * that arrive while another update runs wait for it and are then written in one update (eight
 * generations that finish together take the lock twice, not eight times); a change that throws
 * fails alone, its edits undone. `change` replaces or deletes entries of `images`; it never edits
 * an entry in place. Returns the data as written.
 */
export function updateLockfile(path: string, change: (data: LockfileData) => void): Promise<LockfileData> {
  const absolute = resolve(path);
  return new Promise((resolvePromise, reject) => {
    const pending: PendingChange = { change, resolve: resolvePromise, reject };
    const batch = waiting.get(absolute);
    if (batch) {
      batch.push(pending);
      return;
    }
    const changes = [pending];
    waiting.set(absolute, changes);
    const previous = queues.get(absolute) ?? Promise.resolve();
    const locked = () => {
      // From here on, a new change waits for this update rather than joining it.
      waiting.delete(absolute);
      return withFileLock(lockfileLockPath(absolute), () => applyUpdate(absolute, (data) => applyEach(data, changes)));
    };
    const update = previous.then(locked, locked);
    queues.set(absolute, update);
    update.then(
      (data) => {
        for (const { resolve: done, reject: fail, failed } of changes) {
          if (failed) fail(failed.error);
          else done(data);
        }
      },
      (error: unknown) => {
        for (const { reject: fail } of changes) fail(error);
      },
    );
    const forget = () => {
      if (queues.get(absolute) === update) queues.delete(absolute);
    };
    update.then(forget, forget);
  });
}

function applyEach(data: LockfileData, changes: PendingChange[]): void {
  for (const pending of changes) {
    // A change replaces or deletes entries, never edits one: a copy of the index undoes a failed one
    // (a deep clone per change made a batch of 2,000 pins quadratic: seconds in a cold build).
    const before = { version: data.version, images: { ...data.images } };
    try {
      pending.change(data);
    } catch (error) {
      pending.failed = { error };
      data.version = before.version;
      data.images = before.images;
    }
  }
}

/** The lock that guards a lockfile's read-modify-write across processes: a hidden file beside it. */
export function lockfileLockPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.lock`);
}

export function lockEntryFor(meta: OriginalMeta): LockEntry {
  return {
    ...generationFields(meta),
    sha256: meta.sha256,
    width: meta.width,
    height: meta.height,
    ...(meta.inputs ? { inputs: meta.inputs } : {}),
  };
}

async function applyUpdate(path: string, change: (data: LockfileData) => void): Promise<LockfileData> {
  const before = await readText(path);
  const data = before === undefined ? emptyLockfile() : parseLockfile(before, path);
  change(data);
  const after = serializeLockfile(data);
  // A project that never stored an original gets no empty lockfile.
  const unchanged = before === undefined ? Object.keys(data.images).length === 0 : before === after;
  if (!unchanged) await writeFileAtomic(path, after);
  return data;
}

function emptyLockfile(): LockfileData {
  return { version: 1, images: {} };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** A lockfile's text, checked as {@link readLockfile} checks it; `path` names it in errors. */
export function parseLockfile(text: string, path: string): LockfileData {
  const conflict = /^(<{7}|={7}|>{7})(?: |$)/m.exec(text);
  if (conflict) {
    const { line, column } = lineAndColumn(text, conflict.index);
    throw new ImagegenError(`${path}:${line}:${column} has a merge conflict; ${FIX}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // JSON.parse's message quotes the whole file on Node 20 and gives no position for some
    // errors: jsonc-parser, strict, finds the first error's offset instead.
    // Required here, on the error path only: a build that reads a valid lockfile never loads it.
    const { parse: parseJson } = createRequire(import.meta.url)("jsonc-parser") as typeof import("jsonc-parser");
    const errors: ParseError[] = [];
    parseJson(text, errors, { disallowComments: true, allowTrailingComma: false });
    const offset = errors[0]?.offset ?? 0;
    const { line, column } = lineAndColumn(text, offset);
    const found = offset < text.length ? `unexpected ${JSON.stringify(text[offset])}` : "it ends too early";
    throw new ImagegenError(`${path}:${line}:${column} is not valid JSON (${found}); ${FIX}.`, { cause: error });
  }
  const problem = lockfileProblem(value);
  if (problem) throw new ImagegenError(`${path} is not an imagegen lockfile (${problem}); ${FIX}.`);
  return value as LockfileData;
}

function lockfileProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return "not an object";
  if (value.version !== 1) return `"version" is ${JSON.stringify(value.version)}, expected 1`;
  if (!isRecord(value.images)) return `"images" is not an object`;
  for (const [key, entry] of Object.entries(value.images)) {
    if (!isRecord(entry)) return `images["${key}"] is not an object`;
    for (const field of ["prompt", "model", "variant", "sha256"] as const) {
      if (typeof entry[field] !== "string") return `images["${key}"].${field} is not a string`;
    }
    for (const field of ["temperature", "topP", "width", "height"] as const) {
      if (typeof entry[field] !== "number") return `images["${key}"].${field} is not a number`;
    }
    if (!IMAGE_SIZES.includes(entry.size as ImageSize)) {
      return `images["${key}"].size is not one of ${IMAGE_SIZES.join(", ")}`;
    }
    const inputs = inputRecordsProblem(entry.inputs);
    if (inputs) return `images["${key}"].inputs ${inputs}`;
    if (entry.approved !== undefined && !isSha256(entry.approved)) return `images["${key}"].approved is not 64 hex digits`;
    if (entry.pending !== undefined && !(Array.isArray(entry.pending) && entry.pending.every(isSha256))) {
      return `images["${key}"].pending is not a list of sha256 (64 hex digits each)`;
    }
  }
  return undefined;
}

function isSha256(value: unknown): boolean {
  return typeof value === "string" && /^[0-9a-f]{64}$/.test(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
