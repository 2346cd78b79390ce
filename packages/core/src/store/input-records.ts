import { INPUT_ROLES, type GenerationParams, type InputRole } from "../spec/spec.js";

/** An input as the store and the lock record it: what it was, where it was, what its bytes were. */
export interface InputRecord {
  role: InputRole;
  /** Relative to the project root when the original was made. */
  path: string;
  sha256: string;
}

/** The record of each input of a generation; the path is where the file was when it was made. */
export function inputRecords(generation: GenerationParams): InputRecord[] | undefined {
  return generation.inputs?.map(({ role, path, sha256 }) => ({ role, path, sha256: sha256! }));
}

/** Why a recorded `inputs` value is not one, for the store's and the lock's checks. */
export function inputRecordsProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return "is not a list";
  for (const item of value) {
    const record = item as Partial<Record<keyof InputRecord, unknown>> | null;
    if (typeof record !== "object" || record === null) return "holds something that is not an object";
    if (!INPUT_ROLES.includes(record.role as InputRole)) return `has a role that is not one of ${INPUT_ROLES.join(", ")}`;
    if (typeof record.path !== "string") return "has a path that is not a string";
    if (typeof record.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(record.sha256)) return "has a sha256 that is not 64 hex digits";
  }
  return undefined;
}
