import type { SourceLocation } from "./spec/spec.js";

/**
 * A mistake the user can fix: bad input, a missing original in frozen mode, a corrupt store
 * entry. Its message is one or two lines and names where the problem is; it is shown without
 * a stack trace.
 */
export class ImagegenError extends Error {
  readonly location: SourceLocation | undefined;

  constructor(message: string, options: { location?: SourceLocation; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "ImagegenError";
    this.location = options.location;
  }
}

/** `file:line:col`, or `file` with the import, for messages. */
export function formatLocation(location: SourceLocation): string {
  let where = location.file;
  if (location.line !== undefined) {
    where += `:${location.line}`;
    if (location.column !== undefined) where += `:${location.column}`;
  }
  if (location.id !== undefined) where += ` (import "${location.id}")`;
  else if (location.name !== undefined) where += ` (image "${location.name}")`;
  return where;
}

/** A prompt shortened to one line of at most `max` characters, for messages and tables. */
export function truncate(text: string, max = 60): string {
  const line = text.replace(/\s+/g, " ");
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
