import { relativeInside } from "../spec/project-path.js";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path, { join } from "node:path";
import { writeFileAtomic } from "../store/atomic-write.js";
import { sha256Hex } from "../spec/key.js";
import type { ResolvedOptions } from "./options.js";

/** Files that may hold `gen:` imports: scripts, components, markdown and HTML pages. */
export const SOURCE_EXTENSIONS = [
  "js", "jsx", "ts", "tsx", "mjs", "cjs", "mts", "cts", "vue", "svelte", "astro", "mdx", "md", "html",
] as const;

/** The default `sources`: every source file under the root (that git would not ignore). */
export const DEFAULT_SOURCES = [`**/*.{${SOURCE_EXTENSIONS.join(",")}}`];

/** The default `manifests`. */
export const DEFAULT_MANIFESTS = ["**/*.prompts.{yaml,yml}"];

/**
 * Folders never scanned, whatever the globs and `.gitignore` say: dependencies, build output of
 * the common bundlers and frameworks, VCS and caches. The store and the cache are added to them.
 */
export const ALWAYS_IGNORED_FOLDERS = [
  "node_modules", ".git", "dist", "build", ".imagegen", ".next", ".nuxt", ".output", ".svelte-kit", ".astro",
  "coverage", ".vercel", ".netlify", ".turbo", ".cache",
];

/** {@link ALWAYS_IGNORED_FOLDERS} as globs. */
export const ALWAYS_IGNORED = ALWAYS_IGNORED_FOLDERS.map((folder) => `**/${folder}/**`);

export interface ProjectFiles {
  /** Absolute, normalised and sorted. */
  sources: string[];
  manifests: string[];
}

type FileOptions = Pick<ResolvedOptions, "root" | "sources" | "manifests" | "storeDir" | "cacheDir">;

/**
 * The files the CLI reads for images: those of the `sources` and `manifests` globs under the root,
 * less the always-ignored folders and what the project's `.gitignore` files (the root's and those
 * below it) exclude, so that the CLI sees what a fresh clone in CI holds. fast-glob walks the tree
 * once (never entering an always-ignored folder), picomatch sorts what it found, and `ignore`
 * reads the `.gitignore` files as git does.
 */
export async function findProjectFiles(options: FileOptions): Promise<ProjectFiles> {
  // Loaded when first needed: a build whose files are all known never walks the tree.
  const [{ default: fg }, { default: picomatch }] = await Promise.all([import("fast-glob"), import("picomatch")]);
  const patterns = [...options.sources, ...options.manifests];
  if (patterns.every((pattern) => pattern.startsWith("!"))) return { sources: [], manifests: [] };
  // One walk for everything: two fast-glob walks at once take longer than two in a row.
  const found = await fg([...patterns, "**/.gitignore"], {
    cwd: options.root,
    onlyFiles: true,
    dot: true,
    ignore: neverRead(options),
    followSymbolicLinks: false,
  });
  const gitignores = await Promise.all(
    found
      .filter((file) => file === ".gitignore" || file.endsWith("/.gitignore"))
      .map(async (name) => ({ name, text: await readFile(path.join(options.root, name), "utf8").catch(() => "") })),
  );
  const gitignored = await gitignoreRules(gitignores);
  const { isSource, isManifest } = matchersFor(picomatch, options);
  const kept = found.filter((file) => !gitignored(file)).sort();
  const absolute = (files: string[]) => files.map((file) => path.join(options.root, file));
  return { sources: absolute(kept.filter(isSource)), manifests: absolute(kept.filter(isManifest)) };
}

/**
 * Whether the CLI reads `file` (root-relative, with `/`) for images: what {@link findProjectFiles}
 * would list, decided for one file without walking the tree, since a build asks this of every
 * importer and a walk of a large project costs more than the warm build itself.
 */
export async function isProjectFile(
  options: FileOptions,
  file: string,
  gitignores: Gitignore[] = gitignoresOnPath(options.root, file),
): Promise<boolean> {
  const { default: picomatch } = await import("picomatch");
  const { isNeverRead, isSource, isManifest } = matchersFor(picomatch, options);
  if (isNeverRead(file) || (!isSource(file) && !isManifest(file))) return false;
  return !(await gitignoreRules(gitignores))(file);
}

interface Matchers {
  isNeverRead: (file: string) => boolean;
  isSource: (file: string) => boolean;
  isManifest: (file: string) => boolean;
}

/** The globs of `options`, compiled once per options object (a build asks of every importer). */
const compiled = new WeakMap<FileOptions, Matchers>();
function matchersFor(picomatch: typeof import("picomatch"), options: FileOptions): Matchers {
  let matchers = compiled.get(options);
  if (!matchers) {
    matchers = {
      isNeverRead: picomatch(neverRead(options), { dot: true }),
      isSource: globMatcher(picomatch, options.sources),
      isManifest: globMatcher(picomatch, options.manifests),
    };
    compiled.set(options, matchers);
  }
  return matchers;
}

/** The file, in the derived cache folder, that remembers {@link ProjectFileVerdicts} between builds. */
export const PROJECT_FILES_MEMO = "project-files.json";

interface VerdictsMemo {
  /** sha256 of what every verdict depends on besides the file: the root and the globs. */
  rules: string;
  /** Root-relative file → the sha256 of the `.gitignore` files on its way, and the verdict. */
  files: Record<string, { gitignores: string; read: boolean }>;
}

/**
 * {@link isProjectFile} for a whole build, remembered between builds (`project-files.json` in the
 * derived cache): a verdict depends only on the file's path, the globs and the `.gitignore` files
 * on its way, so a warm build reads those few small files and one JSON, and never loads picomatch
 * or ignore (15 ms of a warm build). Any change to one of them makes the verdict anew.
 */
export class ProjectFileVerdicts {
  readonly #options: FileOptions;
  readonly #rules: string;
  readonly #memoFile: string;
  #memo: VerdictsMemo | undefined;
  readonly #asked = new Map<string, Promise<boolean>>();
  /** Verdicts made (not remembered) by this instance: each one is saved by {@link save}. */
  readonly made = new Map<string, { gitignores: string; read: boolean }>();

  constructor(options: FileOptions) {
    this.#options = options;
    this.#rules = sha256Hex(JSON.stringify([options.root, options.sources, options.manifests, neverRead(options)]));
    this.#memoFile = join(options.cacheDir, PROJECT_FILES_MEMO);
  }

  /** Whether the CLI reads `file` (root-relative, with `/`); asked once per file per instance. */
  isProjectFile(file: string): Promise<boolean> {
    let verdict = this.#asked.get(file);
    if (!verdict) {
      verdict = this.#decide(file);
      this.#asked.set(file, verdict);
    }
    return verdict;
  }

  async #decide(file: string): Promise<boolean> {
    const onPath = gitignoresOnPath(this.#options.root, file);
    const gitignores = sha256Hex(onPath.map(({ name, text }) => `${name}\0${text}`).join("\0"));
    const remembered = this.#remembered().files[file];
    if (remembered?.gitignores === gitignores && typeof remembered.read === "boolean") return remembered.read;
    const read = await isProjectFile(this.#options, file, onPath);
    this.made.set(file, { gitignores, read });
    return read;
  }

  #remembered(): VerdictsMemo {
    if (!this.#memo) {
      try {
        const memo = JSON.parse(readFileSync(this.#memoFile, "utf8")) as Partial<VerdictsMemo>;
        const valid = memo.rules === this.#rules && typeof memo.files === "object" && memo.files !== null;
        this.#memo = valid ? (memo as VerdictsMemo) : { rules: this.#rules, files: {} };
      } catch {
        // None yet, or damaged: every verdict is made anew.
        this.#memo = { rules: this.#rules, files: {} };
      }
    }
    return this.#memo;
  }

  /** Writes the verdicts made since the last save beside the remembered ones (nothing when none was made). */
  async save(): Promise<void> {
    if (this.made.size === 0) return;
    const files = { ...this.#remembered().files, ...Object.fromEntries(this.made) };
    this.#memo = { rules: this.#rules, files };
    this.made.clear();
    await writeFileAtomic(this.#memoFile, `${JSON.stringify(this.#memo)}\n`, { durable: false });
  }
}

/** A `.gitignore` file: its root-relative name (with `/`) and its text. */
interface Gitignore {
  name: string;
  text: string;
}

/**
 * The `.gitignore` files that can speak of `file` (root-relative, with `/`), with their text: the
 * root's and those of the folders on its way, read synchronously (a few small files).
 */
function gitignoresOnPath(root: string, file: string): Gitignore[] {
  const dirs = file.split("/").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("/"));
  return [".gitignore", ...dirs.map((dir) => `${dir}/.gitignore`)].flatMap((name) => {
    try {
      return [{ name, text: readFileSync(path.join(root, name), "utf8") }];
    } catch {
      return []; // absent, or a folder: not a .gitignore
    }
  });
}

/** Globs of what is never read: the always-ignored folders, and the store and cache below the root. */
function neverRead(options: FileOptions): string[] {
  return [...ALWAYS_IGNORED, ...insideRoot(options.root, [options.storeDir, options.cacheDir])];
}

/** A test of `sources` or `manifests` globs, `!`-globs excluding. */
function globMatcher(picomatch: typeof import("picomatch"), globs: string[]): (file: string) => boolean {
  const positive = globs.filter((glob) => !glob.startsWith("!"));
  const negative = globs.filter((glob) => glob.startsWith("!")).map((glob) => glob.slice(1));
  const matches = positive.length === 0 ? () => false : picomatch(positive, { dot: true });
  const excluded = negative.length === 0 ? () => false : picomatch(negative, { dot: true });
  return (file) => matches(file) && !excluded(file);
}

/**
 * A test of root-relative paths (with `/`) against every `.gitignore` on their way from the root:
 * a deeper file's rule wins over a shallower one's, and nothing below an ignored folder comes back
 * (git reads no `.gitignore` there either).
 */
async function gitignoreRules(files: Gitignore[]): Promise<(file: string) => boolean> {
  if (files.length === 0) return () => false;
  const { default: ignore } = await import("ignore");
  const loaded = files.map(({ name, text }) => ({ base: path.posix.dirname(name), rule: ignore().add(text) }));
  // Shallow first, so that a deeper `.gitignore` has the last word.
  const rules = loaded.sort((a, b) => depth(a.base) - depth(b.base));

  /** The verdict of the `.gitignore` files of `dir` and its parents on `entry` (relative to the root). */
  const verdict = (dir: string, entry: string): boolean => {
    let ignored = false;
    for (const { base, rule } of rules) {
      if (base !== "." && base !== dir && !dir.startsWith(`${base}/`)) continue;
      const result = rule.test(base === "." ? entry : entry.slice(base.length + 1));
      if (result.ignored) ignored = true;
      else if (result.unignored) ignored = false;
    }
    return ignored;
  };

  const ignoredDirs = new Map<string, boolean>([[".", false]]);
  const dirIgnored = (dir: string): boolean => {
    const known = ignoredDirs.get(dir);
    if (known !== undefined) return known;
    const parent = path.posix.dirname(dir);
    const ignored = dirIgnored(parent) || verdict(parent, `${dir}/`);
    ignoredDirs.set(dir, ignored);
    return ignored;
  };
  return (file) => {
    const dir = path.posix.dirname(file);
    return dirIgnored(dir) || verdict(dir, file);
  };
}

function depth(dir: string): number {
  return dir === "." ? 0 : dir.split("/").length;
}

/** Globs for folders below the root (the store, the cache), relative to it. */
function insideRoot(root: string, dirs: string[]): string[] {
  return dirs
    .map((dir) => relativeInside(root, dir))
    .filter((relative): relative is string => relative !== undefined && relative !== "")
    .map((relative) => `${relative.split(path.sep).join("/")}/**`);
}
