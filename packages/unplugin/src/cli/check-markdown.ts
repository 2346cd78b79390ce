import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { type AuditedImage, ImagegenError, type LockfileData, type ResolvedOptions, parseLockfile, reviewState } from "@imagegen/core";
import { type Output, UsageError, count } from "./output.js";

/**
 * The most characters of a summary: under GitHub's 65,536 for a pull-request comment, and so far
 * under its 1 MiB for `$GITHUB_STEP_SUMMARY`.
 */
export const MARKDOWN_BUDGET = 60_000;
/** The longest prompt shown in a row. */
const PROMPT_CHARS = 200;
/** The most places listed for one image. */
const PLACES = 3;

/** The lock a pull request is compared with, and what it was read from. */
export interface BaseLock {
  name: string;
  lock: LockfileData;
}

export interface CheckSummary {
  clean: boolean;
  images: AuditedImage[];
  required: boolean;
  /** What fails `check` whatever the review setting, by name: missing, stale, unlocked, not uploaded. */
  problems: Record<string, AuditedImage[]>;
  pending: AuditedImage[];
  unreviewed: AuditedImage[];
  errors: string[];
  base?: BaseLock;
}

/**
 * `--base`: a lockfile on disk, or the project's lockfile as a git ref has it (`git show
 * <ref>:<lockfile>`); a ref without one is an empty lock (a project that adds imagegen).
 */
export async function readBaseLock(base: string, options: ResolvedOptions): Promise<BaseLock> {
  const file = path.resolve(base);
  if (existsSync(file)) return { name: base, lock: parseLockfile(await readFile(file, "utf8"), file) };
  const relative = `./${path.relative(options.root, options.lockfilePath).split(path.sep).join("/")}`;
  const text = await new Promise<string | undefined>((resolve, reject) =>
    execFile("git", ["show", `${base}:${relative}`], { cwd: options.root, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      // The ref exists, the lockfile does not (yet) at it.
      if (/exists on disk, but not in|does not exist in/.test(stderr)) return resolve(undefined);
      reject(new UsageError(`--base ${base}: neither a file nor a git ref with ${relative} (${stderr.trim().split("\n")[0] || error.message})`));
    }),
  );
  try {
    return { name: base, lock: text === undefined ? { version: 1, images: {} } : parseLockfile(text, `${base}:${relative}`) };
  } catch (error) {
    if (error instanceof ImagegenError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * `imagegen check --markdown`: a summary for a CI job and a pull-request comment (SPEC §13): new,
 * changed, pending and unreviewed images with prompt, where used and key, and what fails the
 * check. Bounded by {@link MARKDOWN_BUDGET}: rows past it are counted, not listed.
 */
export function checkMarkdown(out: Output, summary: CheckSummary): string {
  const { base } = summary;
  const lines: string[] = [];
  let length = 0;
  let left = 0;
  // Room kept for the closing lines, whatever the rows took.
  const reserve = 1_000;
  const push = (line: string) => {
    lines.push(line);
    length += line.length + 1;
  };
  const notApproved = summary.pending.length + summary.unreviewed.length;
  const failing = Object.entries(summary.problems).filter(([, images]) => images.length > 0);

  push(`## imagegen ${summary.clean ? "✅" : "❌"} ${count(summary.images.length, "image")} in use`);
  push("");
  const facts = [
    ...failing.map(([what, images]) => `${images.length} ${what}`),
    summary.required ? `${notApproved} not approved (review is required)` : `${notApproved} not approved (review is optional)`,
    summary.errors.length > 0 && count(summary.errors.length, "error"),
  ].filter(Boolean);
  push(`${summary.clean ? "Clean" : "Not clean"}: ${facts.join(", ")}.`);

  const listed = new Set<AuditedImage>();
  const section = (title: string, note: string, images: AuditedImage[]) => {
    const rows = images.filter((image) => !listed.has(image));
    if (rows.length === 0) return;
    push("");
    push(`### ${title} (${rows.length})`);
    push("");
    push(note);
    push("");
    push("| image | state | used in | key |");
    push("| --- | --- | --- | --- |");
    for (const image of rows) {
      listed.add(image);
      const row = markdownRow(out, image);
      if (length + row.length + reserve > MARKDOWN_BUDGET) {
        left++;
        continue;
      }
      push(row);
    }
  };
  if (base) {
    const before = base.lock.images;
    section("New", `Not in the lock of \`${code(base.name)}\`.`, summary.images.filter((image) => before[image.key] === undefined));
    section(
      "Changed",
      `The lock pins another original than \`${code(base.name)}\` did.`,
      summary.images.filter((image) => before[image.key] && image.locked && before[image.key]!.sha256 !== image.locked.sha256),
    );
  }
  section("Pending", "New candidates that nobody has decided on.", summary.pending);
  section("Unreviewed", "Pinned, but nobody approved them.", summary.unreviewed);
  for (const [what, images] of failing) section(capitalize(what), failingNote(what), images);
  if (left > 0) {
    push("");
    push(`…and ${count(left, "more image")}, left out to keep this summary short: \`imagegen check --json\` lists every one.`);
  }
  if (summary.errors.length > 0) {
    push("");
    push(`### Errors (${summary.errors.length})`);
    push("");
    for (const error of summary.errors.slice(0, 20)) push(`- ${escapeText(out.clean(error), 500)}`);
    if (summary.errors.length > 20) push(`- …and ${summary.errors.length - 20} more: \`imagegen check\` lists them.`);
  }
  if (notApproved > 0) {
    push("");
    push("To review: `imagegen pull`, then `imagegen review` (`a` approves the picked candidate), then commit and push `imagegen.lock.json`.");
  }
  return lines.join("\n");
}

function markdownRow(out: Output, image: AuditedImage): string {
  const name = image.locations.find((location) => location.name !== undefined)?.name;
  const prompt = escapeText(image.spec.prompt, PROMPT_CHARS);
  const places = image.locations.slice(0, PLACES).map((location) => `\`${code(out.where(location))}\``);
  if (image.locations.length > PLACES) places.push(`+${image.locations.length - PLACES}`);
  const state = image.locked ? reviewState(image.locked) : image.status;
  return `| ${name ? `**${escapeText(name, 80)}** ` : ""}${prompt} | ${state} | ${places.join("<br>")} | \`${image.key}\` |`;
}

function failingNote(what: string): string {
  if (what === "missing") return "No original here: `imagegen generate` makes them (a labelled job, with the key).";
  if (what === "stale") return "The stored original does not match the lock, or an input file changed.";
  if (what === "unlocked") return "Stored, not in the lock: `imagegen generate` locks them.";
  return "Locked, but not in the remote store: `imagegen push` uploads them.";
}

/** Text safe in a table cell and a comment: no Markdown, no HTML, no @mention, one line. */
function escapeText(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  const short = line.length > max ? `${line.slice(0, max - 1)}…` : line;
  return short.replace(/[\\`*_[\]|#~>]/g, (c) => `\\${c}`).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/@/g, "&#64;");
}

/** Inside a code span: no backtick can end it early. */
function code(text: string): string {
  return text.replace(/`/g, "'").replace(/\|/g, "\\|");
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
