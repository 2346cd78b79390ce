import path from "node:path";

/**
 * `file` relative to `root` (the platform's separators; `""` for the root itself), or `undefined`
 * when it lies outside. A name that merely starts with two dots (`..assets/x.png`) is inside.
 */
export function relativeInside(root: string, file: string): string | undefined {
  const relative = path.relative(root, file);
  if (relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return undefined;
  return relative;
}
