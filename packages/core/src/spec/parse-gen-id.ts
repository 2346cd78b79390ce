import { ImagegenError } from "../errors.js";
import {
  type FieldIssue,
  IMAGE_PARAMETER_NAMES,
  describeIssue,
  imageParametersSchema,
  promptField,
} from "./image-options-schema.js";
import type { ImageOptions } from "./spec.js";

/** Every `gen:` import starts with this (SPEC §2). */
export const GEN_PREFIX = "gen:";

export function isGenId(id: string): boolean {
  return id.startsWith(GEN_PREFIX);
}

/**
 * `gen:<prompt>?<key>=<value>&…` → ImageOptions. The prompt ends at the first `?`; prompt,
 * keys and values are percent-decoded. `+` is a literal plus, not a space: these are
 * import specifiers, not HTML form data, and prompts say "C++" or "1+1" more often than
 * anyone form-encodes them (write `%20` or a plain space for a space).
 *
 * @param importer the importing file, named in every error message
 * @throws ImagegenError naming the import, what is wrong and what is allowed
 */
export function parseGenId(id: string, importer?: string): ImageOptions {
  const fail = (problem: string) =>
    new ImagegenError(`Invalid gen: import ${quoteId(id)}${importer ? ` in ${importer}` : ""}: ${problem}`, {
      location: { file: importer ?? "", id },
    });

  if (!isGenId(id)) throw fail(`it must start with "${GEN_PREFIX}"`);
  const body = id.slice(GEN_PREFIX.length);
  const mark = body.indexOf("?");
  const rawPrompt = mark === -1 ? body : body.slice(0, mark);
  const query = mark === -1 ? "" : body.slice(mark + 1);

  let problem: string | undefined;
  const prompt = promptField(percentDecode(rawPrompt), (message) => (problem ??= message));
  if (prompt === undefined) throw fail(problem!);

  const params = new Map<string, string>();
  // An empty segment ("?size=2K&") says nothing; skipping it cannot change the image.
  for (const segment of query.split("&").filter((s) => s !== "")) {
    const eq = segment.indexOf("=");
    const key = percentDecode(eq === -1 ? segment : segment.slice(0, eq));
    if (eq === -1) throw fail(`parameter ${JSON.stringify(key)} has no value; write ${key}=<value>`);
    if (params.has(key)) throw fail(`parameter ${JSON.stringify(key)} is given twice; give each parameter once`);
    params.set(key, percentDecode(segment.slice(eq + 1)));
  }

  const parsed = imageParametersSchema.safeParse(Object.fromEntries(params));
  if (!parsed.success) {
    // Report the problem the reader meets first in the query, not zod's order.
    const order = [...params.keys()];
    const at = (issue: FieldIssue) => order.indexOf(String(issue.code === "unknown_keys" ? issue.keys[0] : issue.path[0]));
    const first = [...parsed.issues].sort((a, b) => at(a) - at(b))[0]!;
    throw fail(describeIssue(first, IMAGE_PARAMETER_NAMES));
  }
  return { prompt, ...parsed.data };
}

/**
 * Decodes each run of `%XX` escapes as UTF-8. A `%` that starts no escape, or a run that
 * is not valid UTF-8, stays as written: a prompt may say "50% off".
 */
function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** The id as it reads in a message: quoted, escaped to one line, and short. */
function quoteId(id: string): string {
  return JSON.stringify(id.length > 100 ? `${id.slice(0, 97)}…` : id);
}
