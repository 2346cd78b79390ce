import { execFile } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
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

/** The URLs of the modules that importing `specifier` (from the tests' folder) loads, after Vite's, then running `then`. */
async function modulesLoadedBy(specifier: string, then = ""): Promise<string[]> {
  const register = `import { register } from "node:module"; register("data:text/javascript,${encodeURIComponent(HOOKS)}");`;
  const script = `await import("vite"); process._rawDebug("---"); const imported = await import(${JSON.stringify(specifier)}); ${then}`;
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

  it("a config that imports defineConfig from the package's root loads neither the root nor c12", async () => {
    // Inside the workspace, where unplugin-imagegen and c12 can both be found.
    const root = path.join(HERE, ".tmp", `entry-imports-${process.pid}`);
    await mkdir(root, { recursive: true });
    try {
      await writeFile(path.join(root, "imagegen.config.ts"), `import { defineConfig } from "unplugin-imagegen";\n\nexport default defineConfig({ concurrency: 3 });\n`);
      const loaded = await modulesLoadedBy(
        "unplugin-imagegen/vite",
        `const { resolveOptions } = await import("@imagegen/core"); const options = await resolveOptions({ root: ${JSON.stringify(root)} }, {}); if (options.concurrency !== 3) throw new Error("the config was not read");`,
      );
      expect(loaded.filter((url) => url.endsWith("/packages/unplugin/dist/index.mjs") || UNPLUGIN_OWN.test(url) || /\/node_modules\/(?:c12|jiti)\//.test(url))).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
