import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { sha256Hex } from "../spec/key.js";

/**
 * Loads the usual `imagegen.config.*`, plain ES module code (a `.ts` one with no type syntax), with
 * Node's own `import()` instead of c12 and jiti, whose import alone cost every `vite build` process
 * 120–170 ms. The file's text is copied, content-addressed, to `.mjs` under `node_modules/.cache/`
 * (bare imports resolve from there as from the root) and imported. `undefined` when the file is
 * not such a config (type syntax, a relative import, `import.meta`, CommonJS, a function, c12's
 * `$` keys…): c12 loads it, as it always did, and says what went wrong.
 */
export async function loadPlainConfig(root: string): Promise<{ config: Record<string, unknown>; file: string } | undefined> {
  const file = soleConfigFile(root);
  if (!file) return undefined;
  const text = readFileSync(file, "utf8");
  // What would mean another thing from another folder, or what only a loader gives.
  if (/\b(?:from|import)\s*\(?\s*["'`]\.|import\.meta|__dirname|__filename|\brequire\b|\bmodule\.exports\b|\bexports\.\w/.test(text)) return undefined;
  const copy = path.join(root, "node_modules", ".cache", "imagegen-config", `${sha256Hex(text).slice(0, 20)}.mjs`);
  try {
    writeOnce(copy, text);
    // Evaluated on every load, as c12 does (no module cache): a config may read the environment.
    const loaded = (await import(`${pathToFileURL(copy).href}?load=${++loads}`)) as { default?: unknown };
    const config = "default" in loaded ? loaded.default : loaded;
    if (!isPlainObject(config) || Object.keys(config).some((key) => key.startsWith("$"))) return undefined;
    return { config, file };
  } catch {
    // A SyntaxError (type annotations), a missing package, a throwing config: c12 reports it.
    return undefined;
  }
}

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

function writeOnce(file: string, text: string): void {
  try {
    if (readFileSync(file, "utf8") === text) return;
  } catch {
    // Not written yet.
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
