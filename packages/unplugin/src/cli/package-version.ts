import { readFileSync } from "node:fs";

/**
 * This package's version, from its package.json: beside dist/, where every CLI chunk is, or two
 * folders up from src/cli/ when the source runs (the tests).
 */
export function packageVersion(): string {
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "unplugin-imagegen") return pkg.version ?? "0.0.0";
    } catch {
      // Not there: the other place.
    }
  }
  return "0.0.0";
}
