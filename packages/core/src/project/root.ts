import { existsSync } from "node:fs";
import path from "node:path";

/** What marks a folder as a project's root, nearest first. */
export const PROJECT_ROOT_MARKERS = [
  "imagegen.config.ts",
  "imagegen.config.mts",
  "imagegen.config.js",
  "imagegen.config.mjs",
  "imagegen.lock.json",
  "package.json",
] as const;

/**
 * The project root: the nearest folder at or above `start` (the bundler's root, or the current
 * folder for the CLI) that holds an `imagegen.config.*`, an `imagegen.lock.json` or a
 * `package.json`; `start` itself when no folder above does. Frameworks point their bundler at a
 * source folder (Nuxt's `app/`, a Vite `root: "src"`): the store, the lock and the config stay
 * where the project lives, so that the plugin and the CLI see the same ones.
 */
export function findProjectRoot(start: string): string {
  const from = path.resolve(start);
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (PROJECT_ROOT_MARKERS.some((marker) => existsSync(path.join(dir, marker)))) return dir;
    if (path.dirname(dir) === dir) return from;
  }
}

/** The root a user gave (`root`, `--root`), resolved; else the one {@link findProjectRoot} finds from `start`. */
export function resolveProjectRoot(given: string | undefined, start: string = process.cwd()): string {
  return given === undefined ? findProjectRoot(start) : path.resolve(given);
}
