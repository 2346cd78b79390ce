import type { ObjectExpression } from "@babel/types";
import { configObjectOf, findExportedConfig } from "./config-object.js";
import { ModuleText } from "./module-text.js";

/** What an editor made of a config file. */
export type ConfigEdit =
  | { kind: "edited"; text: string; summary: string }
  /** imagegen is in it already: nothing to do. */
  | { kind: "wired" }
  /** Left as it is; `reason` follows "left it as it is:". */
  | { kind: "refused"; reason: string };

/** An import of unplugin-imagegen (or Nuxt's module name), in any quotes. */
const IMAGEGEN_SPECIFIER = /(["'`])unplugin-imagegen(?:\/[\w-]+)?\1/;

/** The file, parsed; a refusal when it does not parse. */
export function parseConfig(code: string): ModuleText | { refused: string } {
  try {
    return new ModuleText(code);
  } catch (error) {
    return { refused: `it does not parse (${(error as Error).message})` };
  }
}

/** A config file parsed, with the object literal it exports. */
export interface ConfigModule {
  module: ModuleText;
  object: ObjectExpression;
  style: "esm" | "cjs";
}

/** The object a config file exports (see {@link configObjectOf}), or why it cannot be edited. */
export function openConfigObject(code: string): ConfigModule | { refused: string } {
  const module = parseConfig(code);
  if ("refused" in module) return module;
  const exported = findExportedConfig(module.program);
  if ("refused" in exported) return exported;
  const found = configObjectOf(exported.expression, module.program, code);
  if ("refused" in found) return found;
  return { module, object: found.object, style: exported.style };
}

/** True when the file imports unplugin-imagegen already, however it uses it. */
export function mentionsImagegen(code: string): boolean {
  return IMAGEGEN_SPECIFIER.test(code);
}

/** `name`, or `name` with a suffix when the file uses that name already. */
export function freeName(code: string, name: string): string {
  for (const candidate of [name, `${name}Plugin`, `unplugin${name[0]!.toUpperCase()}${name.slice(1)}`]) {
    if (!new RegExp(`\\b${candidate}\\b`).test(code)) return candidate;
  }
  return `${name}${code.length}`;
}

/** `import imagegen from "…";`, or for CommonJS `const imagegen = require("…").default;` (named: `{ withImagegen }`). */
export function importStatement(module: Pick<ModuleText, "string" | "semi">, style: "esm" | "cjs", local: string, from: string, named = false): string {
  if (style === "esm") return `import ${named ? `{ ${local} }` : local} from ${module.string(from)}${module.semi}`;
  return named ? `const { ${local} } = require(${module.string(from)})${module.semi}` : `const ${local} = require(${module.string(from)}).default${module.semi}`;
}
