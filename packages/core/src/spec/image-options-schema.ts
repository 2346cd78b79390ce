import { ImagegenError } from "../errors.js";
import {
  FITS,
  IMAGE_SIZES,
  OUTPUT_FORMATS,
  MAX_REFERENCES,
  PLACEHOLDERS,
  type Aspect,
  type Fit,
  type ImageOptions,
  type ImageSize,
  type OutputFormat,
  type PlaceholderKind,
} from "./spec.js";

/**
 * The one set of rules for every image option (SPEC §2). `gen:` queries hand in strings
 * ("2K", "0.7", "640;1280"); manifests and config hand in YAML/JS values (numbers, lists):
 * each field accepts both and yields the typed value, so both inputs share one key.
 *
 * Plain functions rather than a schema library: every rule is a parser of its own, and a warm
 * build parses every `gen:` id, so the rules must load with the plugin for nothing (importing zod
 * cost a whole process 45–70 ms, more than imagegen's whole share of a warm build).
 */

/** Parameters a `gen:` query, a manifest image or `defaults` may set (everything but `prompt`). */
export const IMAGE_PARAMETER_NAMES = [
  "size",
  "temperature",
  "topP",
  "model",
  "variant",
  "style",
  "w",
  "format",
  "quality",
  "aspect",
  "fit",
  "placeholder",
  "alt",
  "edit",
  "ref",
] as const;
export type ImageParameterName = (typeof IMAGE_PARAMETER_NAMES)[number];

/** Longest prompt (and alt), in Unicode code points, after trimming. */
export const MAX_PROMPT_LENGTH = 4000;
export const MAX_WIDTH = 8192;
/** Bounds each term of `aspect` so that "W:H" stays a ratio, not a pixel size. */
export const MAX_ASPECT_TERM = 100;

export type ImageParameters = Omit<ImageOptions, "prompt">;

// A decimal as people write it; rejects "", "NaN", "Infinity", "0x10", " 1".
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DIGITS = /^\d+$/;
const LABEL = /^[A-Za-z0-9._-]{1,64}$/;
const MODEL_NAME = /^[^\s\u0000-\u001f\u007f]{1,200}$/u;
const ASPECT = /^(\d+):(\d+)$/;
// Control characters except tab and newline: invisible in review, and they break log lines.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** How a rejected value reads in a message: strings quoted, lists and mappings named. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}…` : value;
    return JSON.stringify(shown);
  }
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

function toNumber(value: unknown): number | undefined {
  let n: number | undefined;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && DECIMAL.test(value)) n = Number(value);
  if (n === undefined || !Number.isFinite(n)) return undefined;
  return n === 0 ? 0 : n; // -0 and 0 must give the same key
}

function toInteger(value: unknown, min: number, max: number): number | undefined {
  let n: number | undefined;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && DIGITS.test(value)) n = Number(value);
  return n !== undefined && Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

function toOneOf<T extends string>(values: readonly T[]) {
  return (value: unknown): T | undefined =>
    typeof value === "string" && (values as readonly string[]).includes(value) ? (value as T) : undefined;
}

/** A label may come as a YAML number (`variant: 2`); it means the same as `?variant=2`. */
function toLabel(value: unknown): string | undefined {
  const text = typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? String(value) : value;
  return typeof text === "string" && LABEL.test(text) ? text : undefined;
}

function toAspect(value: unknown): Aspect | undefined {
  const match = typeof value === "string" ? ASPECT.exec(value) : null;
  if (!match) return undefined;
  const width = toInteger(match[1], 1, MAX_ASPECT_TERM);
  const height = toInteger(match[2], 1, MAX_ASPECT_TERM);
  return width !== undefined && height !== undefined ? { width, height } : undefined;
}

/** An input path as written; resolved against the importing file later (resolve-spec.ts). */
function toInputPath(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  return text !== "" && text.length <= 1024 && !CONTROL.test(text) ? text : undefined;
}

function toAlt(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const text = value.normalize("NFC").trim();
  return [...text].length <= MAX_PROMPT_LENGTH && !CONTROL.test(text) ? text : undefined;
}

/** One problem of one input: names that are not allowed, or a value that is not. */
export type FieldIssue =
  | { code: "unknown_keys"; keys: string[]; path: (string | number)[] }
  | { code: "invalid"; message: string; path: (string | number)[] };

export type FieldsResult<T> = { success: true; data: T } | { success: false; issues: FieldIssue[] };

/** Checks one value (`undefined` when absent): returns what it means, or reports its issues and returns `undefined`. */
type Field<T> = (value: unknown, report: (message: string, path?: (string | number)[]) => void) => T | undefined;

/** A set of named fields; strict: a name it does not know is an issue, never ignored. */
export class FieldsSchema<T> {
  readonly fields: Readonly<Record<string, Field<unknown>>>;

  constructor(fields: Record<string, Field<unknown>>) {
    this.fields = fields;
  }

  /** The same fields and more. */
  extend<U>(fields: Record<string, Field<unknown>>): FieldsSchema<T & U> {
    return new FieldsSchema({ ...this.fields, ...fields });
  }

  /** Every field checked (issues in field order, unknown names last); absent fields stay absent. */
  safeParse(input: Record<string, unknown>): FieldsResult<T> {
    const issues: FieldIssue[] = [];
    const data: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(this.fields)) {
      const value = Object.hasOwn(input, name) ? input[name] : undefined;
      const parsed = field(value, (message, path = []) => issues.push({ code: "invalid", message, path: [name, ...path] }));
      if (parsed !== undefined) data[name] = parsed;
    }
    const unknown = Object.keys(input).filter((key) => !Object.hasOwn(this.fields, key));
    if (unknown.length > 0) issues.push({ code: "unknown_keys", keys: unknown, path: [] });
    return issues.length > 0 ? { success: false, issues } : { success: true, data: data as T };
  }
}

/** One scalar option: `parse` returns undefined for anything it does not accept. */
function option<T>(name: string, allowed: string, parse: (value: unknown) => T | undefined): Field<T> {
  return (value, report) => {
    if (value === undefined) return undefined;
    const parsed = parse(value);
    if (parsed === undefined) report(`${name} must be ${allowed} (got ${describeValue(value)})`);
    return parsed;
  };
}

/** A list option: a `;`-separated string (queries, also allowed in YAML) or a YAML/JS list. */
function listOption<T>(
  name: string,
  items: string,
  parseItem: (value: unknown) => T | undefined,
  maxItems = Infinity,
): Field<T[]> {
  return (value, report) => {
    if (value === undefined) return undefined;
    const count = typeof value === "string" ? value.split(";").length : Array.isArray(value) ? value.length : 0;
    if (count > maxItems) {
      report(`${name} takes at most ${maxItems} ${items} (got ${count})`);
      return undefined;
    }
    if (typeof value === "string") {
      const parsed = value.split(";").map(parseItem);
      if (parsed.every((item) => item !== undefined)) return parsed as T[];
      report(`${name} must be ${items} separated by ";" (got ${describeValue(value)})`);
      return undefined;
    }
    if (!Array.isArray(value) || value.length === 0) {
      report(`${name} must be a list of ${items} (got ${describeValue(value)})`);
      return undefined;
    }
    const parsed = value.map(parseItem);
    parsed.forEach((item, index) => {
      if (item === undefined) report(`${name} must be a list of ${items} (got ${describeValue(value[index])})`, [index]);
    });
    return parsed.every((item) => item !== undefined) ? (parsed as T[]) : undefined;
  };
}

const oneOf = (values: readonly string[]) => `one of ${values.join(", ")}`;
const LABEL_RULE = `1 to 64 letters, digits, ".", "_" or "-"`;

/** Every parameter of an image; strict, so a misspelt name is an error, never ignored. */
export const imageParametersSchema = new FieldsSchema<ImageParameters>({
  size: option<ImageSize>("size", oneOf(IMAGE_SIZES), toOneOf(IMAGE_SIZES)),
  temperature: option("temperature", "a number from 0 to 2", (v) => {
    const n = toNumber(v);
    return n !== undefined && n >= 0 && n <= 2 ? n : undefined;
  }),
  topP: option("topP", "a number from 0 to 1", (v) => {
    const n = toNumber(v);
    return n !== undefined && n >= 0 && n <= 1 ? n : undefined;
  }),
  model: option("model", "a model name of 1 to 200 characters without spaces", (v) =>
    typeof v === "string" && MODEL_NAME.test(v) ? v : undefined,
  ),
  variant: option("variant", LABEL_RULE, toLabel),
  style: option("style", `a style name of ${LABEL_RULE}`, (v) =>
    typeof v === "string" && LABEL.test(v) ? v : undefined,
  ),
  w: listOption("w", `integers from 1 to ${MAX_WIDTH}`, (v) => toInteger(v, 1, MAX_WIDTH)),
  format: listOption<OutputFormat>("format", OUTPUT_FORMATS.join(", "), toOneOf(OUTPUT_FORMATS)),
  quality: option("quality", "an integer from 1 to 100", (v) => toInteger(v, 1, 100)),
  aspect: option("aspect", `W:H with integers from 1 to ${MAX_ASPECT_TERM}, like "4:3"`, toAspect),
  fit: option<Fit>("fit", oneOf(FITS), toOneOf(FITS)),
  placeholder: option<PlaceholderKind>("placeholder", oneOf(PLACEHOLDERS), toOneOf(PLACEHOLDERS)),
  alt: option("alt", `text of at most ${MAX_PROMPT_LENGTH} characters without control characters`, toAlt),
  edit: option("edit", `a path to an image file, like "./photos/beach.jpg"`, toInputPath),
  ref: listOption("ref", "paths to image files", toInputPath, MAX_REFERENCES),
});

/** The prompt: NFC-normalised and trimmed, so that the same words always give the same key. */
export const promptField: Field<string> = (value, report) => {
  const fail = (message: string) => {
    report(message);
    return undefined;
  };
  if (value === undefined) return fail("prompt is missing; every image needs a prompt");
  if (typeof value !== "string") return fail(`prompt must be text (got ${describeValue(value)})`);
  const prompt = value.normalize("NFC").trim();
  if (prompt === "") return fail(`prompt must be non-empty text (got ${describeValue(value)})`);
  const length = [...prompt].length;
  if (length > MAX_PROMPT_LENGTH) {
    return fail(`prompt must be at most ${MAX_PROMPT_LENGTH} characters (got ${length})`);
  }
  const control = CONTROL.exec(prompt);
  if (control) {
    const code = control[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return fail(`prompt must not contain control characters other than tab and newline (got U+${code})`);
  }
  return prompt;
};

/** A manifest image: the same parameters plus its prompt. */
export const imageEntrySchema = imageParametersSchema.extend<{ prompt: string }>({ prompt: promptField });

/** Names a manifest image may set, in the order messages list them. */
export const IMAGE_ENTRY_FIELDS = ["prompt", ...IMAGE_PARAMETER_NAMES] as const;

/**
 * One line for one issue. Field rules carry their own message; an unknown key is
 * reported here because only the caller knows whether it is a query or a manifest.
 */
export function describeIssue(issue: FieldIssue, allowed: readonly string[], noun: "parameter" | "field" = "parameter"): string {
  if (issue.code === "invalid") return issue.message;
  const names = issue.keys.map((key) => JSON.stringify(key)).join(", ");
  return `unknown ${noun}${issue.keys.length === 1 ? "" : "s"} ${names}; allowed: ${allowed.join(", ")}`;
}

/**
 * Validates `defaults` from the config file or plugin options with the same rules as a
 * `gen:` query, so a bad default fails the build instead of reaching every image.
 * @param where what the message names, e.g. `defaults in /app/imagegen.config.ts`
 */
export function validateDefaults(defaults: unknown, where: string): ImageParameters {
  if (typeof defaults !== "object" || defaults === null || Array.isArray(defaults)) {
    throw new ImagegenError(`${where} must be an object of image parameters (got ${describeValue(defaults)})`);
  }
  const result = imageParametersSchema.safeParse(defaults as Record<string, unknown>);
  if (!result.success) {
    throw new ImagegenError(`${where}: ${describeIssue(result.issues[0]!, IMAGE_PARAMETER_NAMES)}`);
  }
  // A path in the config would have no importing file to be relative to.
  for (const name of ["edit", "ref"] as const) {
    if (result.data[name] !== undefined) {
      throw new ImagegenError(`${where}: ${name} cannot be a config default; set it on the image, or in a manifest's defaults`);
    }
  }
  return result.data;
}
