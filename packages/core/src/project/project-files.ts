import { readFile, stat } from "node:fs/promises";
import path from "node:path";
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
  const gitignored = await gitignoreRules(options.root, found.filter((file) => file === ".gitignore" || file.endsWith("/.gitignore")));
  const isSource = globMatcher(picomatch, options.sources);
  const isManifest = globMatcher(picomatch, options.manifests);
  const kept = found.filter((file) => !gitignored(file)).sort();
  const absolute = (files: string[]) => files.map((file) => path.join(options.root, file));
  return { sources: absolute(kept.filter(isSource)), manifests: absolute(kept.filter(isManifest)) };
}

/**
 * Whether the CLI reads `file` (root-relative, with `/`) for images: what {@link findProjectFiles}
 * would list, decided for one file without walking the tree, since a build asks this of every
 * importer and a walk of a large project costs more than the warm build itself.
 */
export async function isProjectFile(options: FileOptions, file: string): Promise<boolean> {
  const { default: picomatch } = await import("picomatch");
  if (picomatch(neverRead(options), { dot: true })(file)) return false;
  if (!globMatcher(picomatch, options.sources)(file) && !globMatcher(picomatch, options.manifests)(file)) return false;
  // The `.gitignore` files that can speak of it: the root's and those of the folders on its way.
  const dirs = file.split("/").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("/"));
  const candidates = [".gitignore", ...dirs.map((dir) => `${dir}/.gitignore`)];
  const present = (await Promise.all(candidates.map((name) => stat(path.join(options.root, name)).then((s) => s.isFile(), () => false))))
    .flatMap((isFile, i) => (isFile ? [candidates[i]!] : []));
  return !(await gitignoreRules(options.root, present))(file);
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
async function gitignoreRules(root: string, files: string[]): Promise<(file: string) => boolean> {
  if (files.length === 0) return () => false;
  const { default: ignore } = await import("ignore");
  const loaded = await Promise.all(
    files.map(async (file) => ({
      base: path.posix.dirname(file),
      rule: ignore().add(await readFile(path.join(root, file), "utf8").catch(() => "")),
    })),
  );
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
    .map((dir) => path.relative(root, dir))
    .filter((relative) => relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative))
    .map((relative) => `${relative.split(path.sep).join("/")}/**`);
}
