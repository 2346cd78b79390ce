import { applyEdits, findNodeAtLocation, modify, parseTree } from "jsonc-parser";
import { CLIENT_TYPES } from "../../module/client-types.js";
import type { InitStep } from "./init-step.js";
import type { ProjectFolder } from "./project-folder.js";
import type { Setup } from "./setups.js";

const REFERENCE = `/// <reference types="${CLIENT_TYPES}" />`;
/** Folders whose tsconfigs a framework writes: never edited. */
const GENERATED = /^(\.nuxt|\.svelte-kit|\.astro|\.next|node_modules)\//;

/**
 * The declarations of `gen:` and manifest modules, for a TypeScript project (one with a
 * tsconfig.json): appended to the `compilerOptions.types` of the tsconfig that lists some (itself,
 * or one it references, as Vite's React starter splits them), since the list replaces TypeScript's
 * default. Where none lists `types`, adding the option would drop every `@types/*` package it
 * includes by default, so the reference goes in the framework's declarations file instead
 * (`src/env.d.ts`, `src/app.d.ts`…). Nuxt's module declares them in Nuxt's generated types.
 */
export async function typescriptTypesSteps(project: ProjectFolder, setup: Setup): Promise<InitStep[]> {
  const tsconfig = await project.read("tsconfig.json");
  if (tsconfig === undefined || !setup.typesFile) return [];
  const declarationFiles = [...setup.typesFile.existing, setup.typesFile.create];
  for (const file of declarationFiles) {
    if ((await project.read(file))?.includes(CLIENT_TYPES)) return [{ kind: "keep", file, summary: `references ${CLIENT_TYPES} already` }];
  }

  for (const file of ["tsconfig.json", ...referencedConfigs(tsconfig)]) {
    const text = await project.read(file);
    const types = text === undefined ? undefined : typesArray(text);
    if (!types) continue;
    if (types.values.includes(CLIENT_TYPES)) return [{ kind: "keep", file, summary: `lists ${CLIENT_TYPES} in compilerOptions.types already` }];
    return [{ kind: "write", file, before: text, after: appendToTypes(text!, types), summary: `"${CLIENT_TYPES}" in compilerOptions.types` }];
  }

  const existing = await project.first(setup.typesFile.existing);
  if (existing) {
    const before = (await project.read(existing))!;
    return [{ kind: "write", file: existing, before, after: addReference(before), summary: `/// <reference types="${CLIENT_TYPES}" />` }];
  }
  const create = setup.typesFile.create;
  const dir = create.includes("/") ? create.slice(0, create.lastIndexOf("/")) : "";
  const file = dir && !(await project.exists(dir)) ? create.slice(dir.length + 1) : create;
  return [{ kind: "write", file, before: undefined, after: `${REFERENCE}\n`, summary: `/// <reference types="${CLIENT_TYPES}" />` }];
}

/** The tsconfigs a solution-style tsconfig.json references, root-relative; generated ones left out. */
function referencedConfigs(tsconfig: string): string[] {
  const references = findNodeAtLocation(parseTree(tsconfig) ?? { type: "null", offset: 0, length: 0 }, ["references"]);
  const paths = (references?.children ?? []).flatMap((reference) => {
    const value = findNodeAtLocation(reference, ["path"])?.value;
    return typeof value === "string" ? [value] : [];
  });
  return paths
    .map((reference) => reference.replace(/^\.\//, ""))
    .map((reference) => (reference.endsWith(".json") ? reference : `${reference.replace(/\/$/, "")}/tsconfig.json`))
    .filter((reference) => !reference.startsWith("../") && !GENERATED.test(reference));
}

interface TypesArray {
  values: unknown[];
  offset: number;
  length: number;
  /** Where the last element ends, if there is one. */
  lastEnd: number | undefined;
}

function typesArray(text: string): TypesArray | undefined {
  const tree = parseTree(text);
  const node = tree && findNodeAtLocation(tree, ["compilerOptions", "types"]);
  if (node?.type !== "array") return undefined;
  const last = node.children?.at(-1);
  return { values: (node.children ?? []).map((child) => child.value), offset: node.offset, length: node.length, lastEnd: last && last.offset + last.length };
}

/** JSONC stays as written: comments and layout kept; a one-line array stays on one line. */
function appendToTypes(text: string, types: TypesArray): string {
  const array = text.slice(types.offset, types.offset + types.length);
  if (!array.includes("\n")) {
    const item = JSON.stringify(CLIENT_TYPES);
    if (types.lastEnd === undefined) return `${text.slice(0, types.offset + 1)}${item}${text.slice(types.offset + 1)}`;
    return `${text.slice(0, types.lastEnd)}, ${item}${text.slice(types.lastEnd)}`;
  }
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const tabs = /^\t/m.test(text);
  const tabSize = tabs ? 1 : (/^( +)"/m.exec(text)?.[1]?.length ?? 2);
  const edits = modify(text, ["compilerOptions", "types", -1], CLIENT_TYPES, { formattingOptions: { insertSpaces: !tabs, tabSize, eol } });
  return applyEdits(text, edits);
}

/** The reference after the file's other `/// <reference …/>` lines, else on its first line. */
function addReference(text: string): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const references = [...text.matchAll(/^\/\/\/ <reference [^\n]*\n/gm)];
  const last = references.at(-1);
  const at = last ? last.index + last[0].length : 0;
  return `${text.slice(0, at)}${REFERENCE}${eol}${text.slice(at)}`;
}
