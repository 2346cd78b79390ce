import path from "node:path";
import { type SourceLocation, formatLocation, relativeInside } from "@imagegen/core";

/** A mistake in how the command was called (exit 2, one line). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Everything the CLI prints goes through here: results on stdout, progress and diagnostics on
 * stderr. Each line is scrubbed of the API key, whatever produced it, and absolute paths under
 * the project root are shown relative to it.
 */
export class Output {
  #root: string | undefined;
  readonly #secrets: string[] = [];

  constructor(
    readonly stdout: NodeJS.WriteStream = process.stdout,
    readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {
    // The remote store's credentials (SPEC §10) are never printed either.
    for (const name of ["ONEMIN_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]) this.addSecret(process.env[name]);
  }

  /** Paths under `root` print relative to it. */
  setRoot(root: string): void {
    this.#root = root;
  }

  /** A value that must never be printed (an API key). */
  addSecret(secret: string | undefined): void {
    // A very short "secret" would blank ordinary words; keys are long.
    if (secret && secret.length >= 8 && !this.#secrets.includes(secret)) this.#secrets.push(secret);
  }

  /** The text as it may be shown. */
  clean(text: string): string {
    let cleaned = text;
    for (const secret of this.#secrets) cleaned = cleaned.split(secret).join("[redacted]");
    if (this.#root) cleaned = cleaned.split(this.#root + path.sep).join("");
    return cleaned;
  }

  /** A result line, on stdout. */
  print(line = ""): void {
    this.stdout.write(`${this.clean(line)}\n`);
  }

  /** Progress, warnings and errors, on stderr. */
  note(line: string): void {
    this.stderr.write(`${this.clean(line)}\n`);
  }

  /** The one document of `--json`, on stdout. */
  json(value: unknown): void {
    this.stdout.write(`${this.clean(JSON.stringify(value, null, 2))}\n`);
  }

  /** `src/main.ts:3:20`: a location relative to the root, without the import text. */
  where(location: SourceLocation): string {
    const { id: _id, name: _name, ...position } = location;
    return this.relative(formatLocation(position));
  }

  relative(file: string): string {
    if (!this.#root || !path.isAbsolute(file)) return file;
    return relativeInside(this.#root, file) ?? file;
  }
}

/** A location as `--json` gives it: the file relative to the root. */
export function locationJson(out: Output, location: SourceLocation) {
  return {
    file: out.relative(location.file),
    ...(location.line !== undefined && { line: location.line }),
    ...(location.column !== undefined && { column: location.column }),
    ...(location.id !== undefined && { import: location.id }),
    ...(location.name !== undefined && { name: location.name }),
  };
}

/** `1 image`, `2 images`. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
