import type { Expression, Node, ObjectExpression, ObjectProperty, Program } from "@babel/types";

/** A config file's export, or why `init` cannot edit it safely (said after "left it as it is:"). */
export type ExportedConfig = { expression: Expression; style: "esm" | "cjs" } | { refused: string };
export type ConfigObject = { object: ObjectExpression } | { refused: string };

/** Calls whose first argument is the config itself. */
const CONFIG_HELPERS = new Set(["defineConfig", "defineNuxtConfig"]);

/** `export default …` or `module.exports = …`. */
export function findExportedConfig(program: Program): ExportedConfig {
  for (const node of program.body) {
    if (node.type === "ExportDefaultDeclaration") {
      const declaration = node.declaration;
      if (declaration.type === "FunctionDeclaration" || declaration.type === "TSDeclareFunction") return { refused: "its default export is a function" };
      if (declaration.type === "ClassDeclaration") return { refused: "its default export is a class" };
      return { expression: declaration, style: "esm" };
    }
    if (node.type === "ExportNamedDeclaration" && node.specifiers.some((s) => s.exported.type === "Identifier" && s.exported.name === "default")) {
      return { refused: node.source ? `it re-exports its config from "${node.source.value}"` : "it exports its config as `export { … as default }`" };
    }
    if (node.type === "ExpressionStatement" && node.expression.type === "AssignmentExpression" && isModuleExports(node.expression.left)) {
      return { expression: node.expression.right, style: "cjs" };
    }
  }
  return { refused: "it has no `export default` (nor `module.exports =`)" };
}

/**
 * The object literal a config is, followed through `defineConfig(…)`, a top-level variable and
 * `satisfies`/`as`. A function, a call to something else, an import: a refusal, since what the
 * config holds at run time cannot be known from here.
 */
export function configObjectOf(expression: Node, program: Program, code: string, depth = 0): ConfigObject {
  const node = unwrapExpression(expression);
  switch (node.type) {
    case "ObjectExpression":
      return { object: node };
    case "CallExpression": {
      const name = calleeName(node.callee);
      const [argument] = node.arguments;
      if (name && CONFIG_HELPERS.has(name) && argument) {
        const inner = unwrapExpression(argument);
        if (isFunction(inner)) return { refused: `its config is a function (${name}(${snippet(code, inner)}))` };
        return configObjectOf(inner, program, code, depth + 1);
      }
      return { refused: `its config is what ${snippet(code, node.callee)}() returns` };
    }
    case "ArrowFunctionExpression":
    case "FunctionExpression":
      return { refused: `its config is a function (${snippet(code, node)})` };
    case "Identifier": {
      const binding = topLevelBinding(program, node.name);
      if (binding?.kind === "value" && depth < 4) return configObjectOf(binding.init, program, code, depth + 1);
      if (binding?.kind === "function") return { refused: `its config, ${node.name}, is a function` };
      if (binding?.kind === "import") return { refused: `its config, ${node.name}, is imported from "${binding.from}"` };
      return { refused: `init cannot see what ${node.name} holds` };
    }
    default:
      return { refused: `its config is not an object literal (${snippet(code, node)})` };
  }
}

/** The property `key: …` of an object literal (not a computed or spread one). */
export function propertyNamed(object: ObjectExpression, key: string): ObjectProperty | undefined {
  return object.properties.find(
    (property): property is ObjectProperty =>
      property.type === "ObjectProperty" &&
      !property.computed &&
      ((property.key.type === "Identifier" && property.key.name === key) || (property.key.type === "StringLiteral" && property.key.value === key)),
  );
}

/** True when a key added to the object could be overridden by, or override, one spread into it. */
export function spreadsAnother(object: ObjectExpression): boolean {
  return object.properties.some((property) => property.type === "SpreadElement");
}

/** Through parentheses, `satisfies`, `as`, `<T>` and `!`. */
export function unwrapExpression(node: Node): Node {
  let current = node;
  for (;;) {
    switch (current.type) {
      case "TSSatisfiesExpression":
      case "TSAsExpression":
      case "TSTypeAssertion":
      case "TSNonNullExpression":
      case "ParenthesizedExpression":
        current = current.expression;
        continue;
      default:
        return current;
    }
  }
}

export function isFunction(node: Node): boolean {
  return node.type === "ArrowFunctionExpression" || node.type === "FunctionExpression";
}

type Binding = { kind: "value"; init: Expression } | { kind: "function" } | { kind: "import"; from: string };

/** What a top-level name is bound to: a `const`/`let`/`var`, a function, an import. */
export function topLevelBinding(program: Program, name: string): Binding | undefined {
  for (const node of program.body) {
    const declaration = node.type === "ExportNamedDeclaration" && node.declaration ? node.declaration : node;
    if (declaration.type === "VariableDeclaration") {
      for (const declarator of declaration.declarations) {
        if (declarator.id.type === "Identifier" && declarator.id.name === name) {
          if (!declarator.init) return undefined;
          return isFunction(unwrapExpression(declarator.init)) ? { kind: "function" } : { kind: "value", init: declarator.init };
        }
      }
    }
    if (declaration.type === "FunctionDeclaration" && declaration.id?.name === name) return { kind: "function" };
    if (declaration.type === "ImportDeclaration" && declaration.specifiers.some((s) => s.local.name === name)) {
      return { kind: "import", from: declaration.source.value };
    }
  }
  return undefined;
}

function calleeName(callee: Node): string | undefined {
  if (callee.type === "Identifier") return callee.name;
  if (callee.type === "MemberExpression" && !callee.computed && callee.property.type === "Identifier") return callee.property.name;
  return undefined;
}

function isModuleExports(node: Node): boolean {
  return (
    node.type === "MemberExpression" &&
    node.object.type === "Identifier" &&
    node.object.name === "module" &&
    node.property.type === "Identifier" &&
    node.property.name === "exports"
  );
}

/** The start of a node's text on one line, for a message: `({ mode }) => …`. */
function snippet(code: string, node: Node): string {
  const text = code.slice(node.start!, node.end!).replace(/\s+/g, " ");
  if (node.type === "ArrowFunctionExpression" || node.type === "FunctionExpression") {
    const head = /^(.*?=>|function[^{]*)/.exec(text)?.[1];
    if (head) return `${head.trim()} …`;
  }
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}
