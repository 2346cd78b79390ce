import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { isProcessAlive } from "../store/atomic-write.js";

/**
 * Loads the usual `imagegen.config.*`, plain ES module code (a `.ts` one with no type syntax), with
 * Node's own `import()` instead of c12 and jiti, whose import alone cost every `vite build` process
 * 120–170 ms. An `.mjs` file (or a `.js` one in a `"type": "module"` package) is imported where it
 * is; any other is copied for the moment of its import to an `.mjs` under `node_modules/.cache/`
 * (bare imports resolve from there as from the root) and removed once evaluated, so the key a
 * config may hold is never left in a file imagegen wrote. `undefined` when the file is not such a
 * config (type syntax, a relative import, `import.meta`, CommonJS, a function, c12's `$` keys…):
 * c12 loads it, as it always did, and says what went wrong.
 */
export async function loadPlainConfig(root: string): Promise<{ config: Record<string, unknown>; file: string } | undefined> {
  const file = soleConfigFile(root);
  if (!file) return undefined;
  const text = readFileSync(file, "utf8");
  // What would mean another thing from another folder, or what only a loader gives.
  if (/\b(?:from|import)\s*\(?\s*["'`]\.|import\.meta|__dirname|__filename|\brequire\b|\bmodule\.exports\b|\bexports\.\w/.test(text)) return undefined;
  const inPlace = file.endsWith(".mjs") || (file.endsWith(".js") && isModulePackage(root));
  const load = ++loads;
  let copy: string | undefined;
  try {
    if (!inPlace) copy = temporaryCopy(root, withDefineConfigInline(text), load);
    // Evaluated on every load, as c12 does (no module cache): a config may read the environment.
    const loaded = (await import(`${pathToFileURL(copy ?? file).href}?load=${load}`)) as { default?: unknown };
    const config = "default" in loaded ? loaded.default : loaded;
    if (!isPlainObject(config) || Object.keys(config).some((key) => key.startsWith("$"))) return undefined;
    return { config, file };
  } catch {
    // A SyntaxError (type annotations), a missing package, a throwing config, a read-only
    // `node_modules`: c12 reports it or loads it.
    return undefined;
  } finally {
    if (copy) rmSync(copy, { force: true });
  }
}

/**
 * A config's usual first line, `import { defineConfig } from "unplugin-imagegen"` (SPEC §6), becomes
 * the function itself on the same line: defineConfig only types the config and returns its
 * argument, while importing the package's root loads unplugin's adapters for every bundler, 8–12 ms
 * of every build that has a config file. Any other import is left as it is.
 */
function withDefineConfigInline(text: string): string {
  return text.replace(DEFINE_CONFIG_IMPORT, "const defineConfig = (config) => config;");
}

const DEFINE_CONFIG_IMPORT = /^import\s*\{\s*defineConfig\s*\}\s*from\s*(["'])unplugin-imagegen\1\s*;?[ \t]*$/m;

/** The one `imagegen.config.{ts,mts,js,mjs}` at the root when there is no other candidate c12 might pick. */
function soleConfigFile(root: string): string | undefined {
  const names = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const candidates = names(root).filter((name) => name.startsWith("imagegen.config"));
  if (candidates.length !== 1 || !/^imagegen\.config\.(?:ts|mts|js|mjs)$/.test(candidates[0]!)) return undefined;
  if (names(path.join(root, ".config")).some((name) => name.startsWith("imagegen."))) return undefined;
  return path.join(root, candidates[0]!);
}

let loads = 0;

/**
 * The config's text in `node_modules/.cache/imagegen-config/<pid>-<n>.mjs`, readable by its owner
 * only. Copies a killed process left behind (its pid gone) are removed first.
 */
function temporaryCopy(root: string, text: string, load: number): string {
  const dir = path.join(root, "node_modules", ".cache", "imagegen-config");
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (pid !== process.pid && !(Number.isInteger(pid) && pid > 0 && isProcessAlive(pid))) rmSync(path.join(dir, name), { force: true });
  }
  const copy = path.join(dir, `${process.pid}-${load}.mjs`);
  writeFileSync(copy, text, { mode: 0o600 });
  return copy;
}

/** Whether the root's `package.json` makes its `.js` files ES modules. */
function isModulePackage(root: string): boolean {
  try {
    return (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { type?: unknown }).type === "module";
  } catch {
    return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
