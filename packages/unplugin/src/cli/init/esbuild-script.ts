import path from "node:path";
import type { CallExpression, Node, ObjectExpression, Program } from "@babel/types";
import { addPluginToObject, type PluginWiring } from "./add-plugin.js";
import { type ConfigEdit, mentionsImagegen, parseConfig } from "./config-edit.js";
import { configObjectOf } from "./config-object.js";
import { walk } from "./module-text.js";
import type { ProjectFolder } from "./project-folder.js";

/** A script run by package.json: `node build.mjs`, `tsx scripts/build.ts`… */
const SCRIPT_RUN = /(?:^|[\s;&|(])(?:node|tsx|bun|jiti|ts-node|vite-node)(?:\s+-[-\w]*(?:=\S+)?)*\s+([\w./-]+\.[cm]?[jt]s)(?=$|[\s;&|)])/g;
const IMPORTS_ESBUILD = /(["'])esbuild\1/;

/**
 * esbuild has no config file: its plugins go into the options of `esbuild.build()` or
 * `esbuild.context()` in a build script. The scripts package.json runs come first, then files
 * named like a build script; only those that import esbuild count.
 */
export async function findEsbuildScripts(project: ProjectFolder, names: readonly string[]): Promise<string[]> {
  const run = Object.values(project.packageJson.scripts ?? {}).flatMap((command) =>
    [...command.matchAll(SCRIPT_RUN)].map((match) => path.posix.normalize(match[1]!)),
  );
  const candidates = [...new Set([...run, ...names])];
  const texts = await Promise.all(candidates.map((file) => project.read(file)));
  return candidates.filter((_, i) => texts[i] !== undefined && IMPORTS_ESBUILD.test(texts[i]!));
}

/** `imagegen()` in the `plugins` of every `build()` and `context()` call of an esbuild script. */
export function addPluginToEsbuildScript(code: string, wiring: PluginWiring): ConfigEdit {
  if (mentionsImagegen(code)) return { kind: "wired" };
  const module = parseConfig(code);
  if ("refused" in module) return { kind: "refused", reason: module.refused };
  const calls = esbuildCalls(module.program);
  if (calls.some((call) => call.method === "buildSync")) return { kind: "refused", reason: "it calls esbuild.buildSync(), which takes no plugins (esbuild.build() does)" };
  if (calls.length === 0) return { kind: "refused", reason: "it calls no esbuild.build() or esbuild.context() that init can find" };
  const objects = new Set<ObjectExpression>();
  for (const { call } of calls) {
    const [options] = call.arguments;
    const found = options ? configObjectOf(options, module.program, code) : { refused: "it calls esbuild without options" };
    if ("refused" in found) return { kind: "refused", reason: found.refused.replace("its config", "the options of its esbuild call") };
    objects.add(found.object);
  }
  const style = module.program.body.some((node) => node.type === "ImportDeclaration") ? "esm" : "cjs";
  return addPluginToObject(module, [...objects], wiring, style);
}

const METHODS = new Set(["build", "context", "buildSync"]);

/** The calls of esbuild's API in a script, however it was imported or required. */
function esbuildCalls(program: Program): { call: CallExpression; method: string }[] {
  const namespaces = new Set<string>();
  const functions = new Map<string, string>();
  for (const node of program.body) {
    if (node.type === "ImportDeclaration" && node.source.value === "esbuild") {
      for (const specifier of node.specifiers) {
        if (specifier.type === "ImportSpecifier") {
          const imported = specifier.imported.type === "Identifier" ? specifier.imported.name : specifier.imported.value;
          functions.set(specifier.local.name, imported);
        } else {
          namespaces.add(specifier.local.name);
        }
      }
    }
    if (node.type === "VariableDeclaration") {
      for (const declarator of node.declarations) {
        if (!isRequireOfEsbuild(declarator.init)) continue;
        if (declarator.id.type === "Identifier") namespaces.add(declarator.id.name);
        if (declarator.id.type === "ObjectPattern") {
          for (const property of declarator.id.properties) {
            if (property.type === "ObjectProperty" && property.key.type === "Identifier" && property.value.type === "Identifier") {
              functions.set(property.value.name, property.key.name);
            }
          }
        }
      }
    }
  }
  const calls: { call: CallExpression; method: string }[] = [];
  walk(program, (node) => {
    if (node.type !== "CallExpression") return;
    const callee = node.callee;
    let method: string | undefined;
    if (callee.type === "Identifier") method = functions.get(callee.name);
    if (callee.type === "MemberExpression" && !callee.computed && callee.property.type === "Identifier") {
      const object = callee.object;
      if ((object.type === "Identifier" && namespaces.has(object.name)) || isRequireOfEsbuild(object)) method = callee.property.name;
    }
    if (method && METHODS.has(method)) calls.push({ call: node, method });
  });
  return calls;
}

function isRequireOfEsbuild(node: Node | null | undefined): boolean {
  return (
    node?.type === "CallExpression" &&
    node.callee.type === "Identifier" &&
    node.callee.name === "require" &&
    node.arguments[0]?.type === "StringLiteral" &&
    node.arguments[0].value === "esbuild"
  );
}
