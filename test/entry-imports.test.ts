import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

// Issue 27: a `vite build` process pays for every module the plugin's entry loads. The Vite, Rollup
// and Rolldown entries carry unplugin's adapters for their bundlers in the package's own dist
// (packages/unplugin/src/plugin/rollup-family.ts), so they load none of unplugin's webpack, rspack
// and esbuild code, nor the source-map packages it imports for them.

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** Node's module loader hook, in its own thread: it reports each module's URL as it is loaded. */
const HOOKS = `export async function load(url, context, next) { process._rawDebug("loaded " + url); return next(url, context); }`;

/** The URLs of the modules that importing `specifier` (from the tests' folder) loads, after Vite's. */
async function modulesLoadedBy(specifier: string): Promise<string[]> {
  const register = `import { register } from "node:module"; register("data:text/javascript,${encodeURIComponent(HOOKS)}");`;
  const script = `await import("vite"); process._rawDebug("---"); await import(${JSON.stringify(specifier)});`;
  const { stderr } = await promisify(execFile)(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(register)}`, "--input-type=module", "-e", script], {
    cwd: HERE,
  });
  const lines = stderr.split("\n");
  return lines
    .slice(lines.indexOf("---") + 1)
    .filter((line) => line.startsWith("loaded "))
    .map((line) => line.slice("loaded ".length));
}

/** Modules of the unplugin package itself, or of the source-map packages it imports. */
const UNPLUGIN_OWN = /\/node_modules\/(?:unplugin|@jridgewell\/[^/]+)\//;

describe("what a bundler entry loads", () => {
  for (const entry of ["vite", "rollup", "rolldown"]) {
    it(`unplugin-imagegen/${entry} loads none of unplugin's other bundlers' code`, async () => {
      const loaded = await modulesLoadedBy(`unplugin-imagegen/${entry}`);
      expect(loaded.some((url) => url.includes("/packages/unplugin/dist/"))).toBe(true);
      expect(loaded.filter((url) => UNPLUGIN_OWN.test(url))).toEqual([]);
    });
  }

  it("unplugin-imagegen/webpack loads unplugin itself (its loaders are files of that package)", async () => {
    const loaded = await modulesLoadedBy("unplugin-imagegen/webpack");
    expect(loaded.filter((url) => UNPLUGIN_OWN.test(url)).length).toBeGreaterThan(0);
  });
});
