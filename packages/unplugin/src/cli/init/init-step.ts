/** One thing `init` does to a project, or would do with `--dry-run`. Files are root-relative, with `/`. */
export type InitStep =
  /** A file written: `before` is undefined for a new one. */
  | { kind: "write"; file: string; before: string | undefined; after: string; summary: string }
  /** A file that needs nothing: imagegen is there already. */
  | { kind: "keep"; file: string; summary: string }
  /** A file left as it is because it cannot be edited safely (or to make: `create`); the user adds `lines`. */
  | { kind: "manual"; file: string; reason: string; lines: string[]; create?: boolean }
  /** Something the user should know that changes no file. */
  | { kind: "note"; text: string };

/** A write, or a keep when the text would not change. */
export function writeOrKeep(file: string, before: string | undefined, after: string, summary: string, keepSummary: string): InitStep {
  return before === after ? { kind: "keep", file, summary: keepSummary } : { kind: "write", file, before, after, summary };
}
