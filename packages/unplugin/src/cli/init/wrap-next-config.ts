import { type ConfigEdit, importStatement, mentionsImagegen, parseConfig } from "./config-edit.js";
import { configObjectOf, findExportedConfig, isFunction, topLevelBinding, unwrapExpression } from "./config-object.js";

export const NEXT_ENTRY = "unplugin-imagegen/next";

/**
 * `export default withImagegen(nextConfig)` (or `module.exports = …`), as examples/next does.
 * Whatever the export is (an object, a variable, another plugin's `withX(…)`) is wrapped as it
 * is; a function config (`(phase) => …`) is refused, since withImagegen takes the object.
 */
export function wrapNextConfig(code: string): ConfigEdit {
  if (mentionsImagegen(code)) return { kind: "wired" };
  const module = parseConfig(code);
  if ("refused" in module) return { kind: "refused", reason: module.refused };
  const exported = findExportedConfig(module.program);
  if ("refused" in exported) return { kind: "refused", reason: exported.refused };
  const node = unwrapExpression(exported.expression);
  if (isFunction(node) || (node.type === "Identifier" && topLevelBinding(module.program, node.name)?.kind === "function")) {
    const found = configObjectOf(node, module.program, code);
    return { kind: "refused", reason: "refused" in found ? found.refused : "its config is a function" };
  }
  module.wrap(exported.expression, "withImagegen(", ")");
  module.addImport(importStatement(module, exported.style, "withImagegen", NEXT_ENTRY, true));
  return { kind: "edited", text: module.toString(), summary: "the export wrapped in withImagegen()" };
}
