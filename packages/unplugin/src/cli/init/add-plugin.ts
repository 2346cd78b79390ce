import type { ObjectExpression } from "@babel/types";
import { type ConfigEdit, freeName, importStatement, mentionsImagegen, openConfigObject } from "./config-edit.js";
import { propertyNamed, spreadsAnother, unwrapExpression } from "./config-object.js";
import type { ModuleText } from "./module-text.js";
import type { Wiring } from "./setups.js";

export type PluginWiring = Extract<Wiring, { kind: "plugin" }>;

/**
 * `imagegen()` in the `plugins` (Astro: `integrations`) of the config a file exports, and its
 * import: Vite, SvelteKit, Astro, webpack, Rspack, Rollup and Rolldown configs alike.
 */
export function addPlugin(code: string, wiring: PluginWiring): ConfigEdit {
  if (mentionsImagegen(code)) return { kind: "wired" };
  const config = openConfigObject(code);
  if ("refused" in config) return { kind: "refused", reason: config.refused };
  return addPluginToObject(config.module, [config.object], wiring, config.style);
}

/**
 * Adds the plugin to each of `objects` (the options of every `esbuild.build()` of a script) and
 * imports it once. Refused as a whole if any of them cannot take it.
 */
export function addPluginToObject(module: ModuleText, objects: ObjectExpression[], wiring: PluginWiring, style: "esm" | "cjs"): ConfigEdit {
  const local = freeName(module.code, "imagegen");
  const call = `${local}()`;
  const edits: (() => void)[] = [];
  for (const object of objects) {
    const property = propertyNamed(object, wiring.key);
    if (property) {
      const value = unwrapExpression(property.value);
      if (value.type !== "ArrayExpression") return { kind: "refused", reason: `its \`${wiring.key}\` is not an array literal` };
      edits.push(() => module.addToArray(value, call, wiring.first ? "first" : "last"));
    } else {
      // A key added beside a spread would replace the spread config's own plugins.
      if (spreadsAnother(object)) return { kind: "refused", reason: `its config spreads another one and has no \`${wiring.key}\` of its own` };
      edits.push(() => module.addProperty(object, wiring.key, `[${call}]`));
    }
  }
  for (const edit of edits) edit();
  module.addImport(importStatement(module, style, local, wiring.entry));
  return { kind: "edited", text: module.toString(), summary: `${call} in ${wiring.key}` };
}
