import { existsSync } from "node:fs";
import path from "node:path";
import { applyEdits, modify } from "jsonc-parser";
import type { InitStep } from "./init-step.js";
import type { ProjectFolder } from "./project-folder.js";
import type { Setup } from "./setups.js";

export const PACKAGE = "unplugin-imagegen";

/**
 * `unplugin-imagegen` in package.json, as `nuxi module add` and `astro add` add a package: in the
 * section that holds the setup's own package (a Next app keeps `next` in dependencies, since
 * `next start` loads next.config, and so the plugin it imports), else in devDependencies; in
 * alphabetical order, the file's layout kept. Installing is left to the package manager.
 */
export function packageJsonStep(project: ProjectFolder, setup: Setup, version: string, text: string): InitStep {
  const present = project.sectionOf(PACKAGE);
  if (present) return { kind: "keep", file: "package.json", summary: `lists ${PACKAGE} in ${present} already` };
  const section = setup.packages.map((name) => project.sectionOf(name)).find(Boolean) ?? "devDependencies";
  const indent = /^([ \t]+)"/m.exec(text)?.[1] ?? "  ";
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const edits = modify(text, [section, PACKAGE], `^${version}`, {
    formattingOptions: { insertSpaces: !indent.startsWith("\t"), tabSize: indent.startsWith("\t") ? 1 : indent.length, eol },
    getInsertionIndex: (names) => {
      const at = names.findIndex((name) => name > PACKAGE);
      return at < 0 ? names.length : at;
    },
  });
  return { kind: "write", file: "package.json", before: text, after: applyEdits(text, edits), summary: `${PACKAGE} ^${version} in ${section}` };
}

/** Lockfiles, by the package manager that writes them. */
const LOCKFILES: [string, string][] = [
  ["pnpm-lock.yaml", "pnpm install"],
  ["bun.lock", "bun install"],
  ["bun.lockb", "bun install"],
  ["yarn.lock", "yarn install"],
  ["package-lock.json", "npm install"],
];

/**
 * The install command of the project's package manager: `packageManager` in package.json, else
 * the lockfile at the root or in a folder above it (a workspace's), else npm.
 */
export function installCommand(project: ProjectFolder): string {
  const declared = /^(npm|pnpm|yarn|bun)@/.exec(project.packageJson.packageManager ?? "")?.[1];
  if (declared) return `${declared} install`;
  for (let dir = project.root; ; dir = path.dirname(dir)) {
    const found = LOCKFILES.find(([lockfile]) => existsSync(path.join(dir, lockfile)));
    if (found) return found[1];
    if (path.dirname(dir) === dir) return "npm install";
  }
}
