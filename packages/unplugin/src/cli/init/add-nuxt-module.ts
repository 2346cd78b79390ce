import { type ConfigEdit, mentionsImagegen, openConfigObject } from "./config-edit.js";
import { propertyNamed, spreadsAnother, unwrapExpression } from "./config-object.js";

export const NUXT_MODULE = "unplugin-imagegen/nuxt";

/** `"unplugin-imagegen/nuxt"` in the `modules` of `nuxt.config.ts`, as `nuxi module add` puts a module there. */
export function addNuxtModule(code: string): ConfigEdit {
  if (mentionsImagegen(code)) return { kind: "wired" };
  const config = openConfigObject(code);
  if ("refused" in config) return { kind: "refused", reason: config.refused };
  const { module, object } = config;
  const name = module.string(NUXT_MODULE);
  const modules = propertyNamed(object, "modules");
  if (modules) {
    const value = unwrapExpression(modules.value);
    if (value.type !== "ArrayExpression") return { kind: "refused", reason: "its `modules` is not an array literal" };
    module.addToArray(value, name);
  } else {
    if (spreadsAnother(object)) return { kind: "refused", reason: "its config spreads another one and has no `modules` of its own" };
    module.addProperty(object, "modules", `[${name}]`);
  }
  return { kind: "edited", text: module.toString(), summary: `${name} in modules` };
}
