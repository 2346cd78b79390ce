import { createRequire } from "node:module";
import type { Document, YAMLError, YAMLMap } from "yaml";
import { ImagegenError, formatLocation } from "../errors.js";
import {
  IMAGE_ENTRY_FIELDS,
  IMAGE_PARAMETER_NAMES,
  describeIssue,
  describeValue,
  type FieldsSchema,
  imageEntrySchema,
  imageParametersSchema,
  type ImageParameters,
} from "./image-options-schema.js";
import type { ImageOptions, SourceLocation } from "./spec.js";

let yamlModule: typeof import("yaml") | undefined;

/** yaml, required on the first manifest: a build without manifests never pays for its import (~30 ms). */
function yaml(): typeof import("yaml") {
  yamlModule ??= createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yamlModule;
}

/** A parsed `*.prompts.yaml` (SPEC §3). */
export interface Manifest {
  file: string;
  defaults: ImageParameters;
  images: ManifestImage[];
}

export interface ManifestImage {
  /** The key as written under `images:`. */
  name: string;
  /** The named export: `name` in camelCase (`team-photo` → `teamPhoto`). */
  exportName: string;
  /** The image's fields over the manifest's `defaults`. */
  options: ImageOptions;
  /** The name's key in the manifest. */
  location: SourceLocation;
}

export const MANIFEST_FIELDS = ["defaults", "images"] as const;

/** Bump when {@link parseManifest} gives another result for the same text, so that no memo of the old one is used. */
export const MANIFEST_REVISION = 1;

// Starts with a letter, so a name is never a path ("../x"), a number or a dotfile.
const IMAGE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const NAME_RULE = `a letter, then up to 63 letters, digits, "_" or "-"`;

/** Names that cannot be `export const <name>` in a module. */
const RESERVED_WORDS = new Set(
  (
    "await break case catch class const continue debugger default delete do else enum export extends " +
    "false finally for function if implements import in instanceof interface let new null package private " +
    "protected public return static super switch this throw true try typeof var void while with yield " +
    "arguments eval"
  ).split(" "),
);

/** `team-photo` → `teamPhoto`; underscores stay (`hero_2`). */
export function toExportName(name: string): string {
  return name.replace(/-+([A-Za-z0-9_])/g, (_, next: string) => next.toUpperCase()).replace(/-+$/, "");
}

/**
 * Parses and validates a manifest. Every error is an ImagegenError whose message starts with
 * `file:line:col: ` and points at the offending value (or key, for an unknown field).
 */
export function parseManifest(text: string, file: string): Manifest {
  const lineCounter = new (yaml().LineCounter)();
  // Duplicate keys are found here, in one pass: yaml's own check compares each key with every one
  // before it, 0.2 s of a 2,000-image manifest's parse.
  const doc = yaml().parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const reader: Reader = {
    doc,
    fail(offset, problem, name) {
      const { line, col } = lineCounter.linePos(offset);
      const location: SourceLocation = { file, line, column: col, ...(name !== undefined && { name }) };
      return new ImagegenError(`${formatLocation({ file, line, column: col })}: ${problem}`, { location });
    },
  };

  const yamlError = doc.errors[0];
  const duplicate = firstDuplicateKey(doc);
  if (duplicate && (!yamlError || duplicate.offset < yamlError.pos[0])) throw reader.fail(duplicate.offset, duplicate.problem);
  if (yamlError) throw reader.fail(yamlError.pos[0], describeYamlError(yamlError));
  const { defaultsNode, imagesNode } = readSections(reader);
  const entries = readNames(reader, imagesNode);
  const { defaults, images } = readFields(reader, defaultsNode, entries);

  return {
    file,
    defaults,
    images: entries.map(({ name, exportName, keyOffset }, index) => {
      const { line, col } = lineCounter.linePos(keyOffset);
      return {
        name,
        exportName,
        options: { ...defaults, ...images[index] },
        location: { file, line, column: col, name },
      };
    }),
  };
}

interface Reader {
  doc: Document;
  fail(offset: number, problem: string, name?: string): ImagegenError;
}

interface Entry {
  name: string;
  exportName: string;
  keyOffset: number;
  node: YAMLMap;
}

/** The top level: a mapping of `images` and an optional `defaults`. */
function readSections({ doc, fail }: Reader): { defaultsNode: YAMLMap | undefined; imagesNode: YAMLMap } {
  const root = doc.contents;
  if (root === null || (yaml().isScalar(root) && root.value === null)) {
    throw fail(0, "the manifest is empty; it needs an images: mapping of names to prompts");
  }
  if (!yaml().isMap(root)) {
    const got = describeNode(root);
    throw fail(start(root), `a manifest must be a mapping with images: and an optional defaults: (got ${got})`);
  }
  for (const pair of root.items) {
    const key = yaml().isScalar(pair.key) ? pair.key.value : pair.key;
    if (!(MANIFEST_FIELDS as readonly unknown[]).includes(key)) {
      throw fail(start(pair.key), `unknown field ${describeNode(pair.key)}; allowed: ${MANIFEST_FIELDS.join(", ")}`);
    }
  }

  // `defaults:` with everything commented out means no defaults.
  const defaultsNode = resolve(doc, root.get("defaults", true));
  if (!isEmpty(defaultsNode) && !yaml().isMap(defaultsNode)) {
    throw fail(start(defaultsNode), `defaults must be a mapping of image fields (got ${describeNode(defaultsNode)})`);
  }
  if (!root.has("images")) throw fail(0, "images: is missing; a manifest lists its images under images:");
  const imagesNode = resolve(doc, root.get("images", true));
  if (!yaml().isMap(imagesNode)) {
    const at = isEmpty(imagesNode) ? keyStart(root, "images") : start(imagesNode);
    throw fail(at, `images must be a mapping of image names to images (got ${describeNode(imagesNode)})`);
  }
  return { defaultsNode: yaml().isMap(defaultsNode) ? defaultsNode : undefined, imagesNode };
}

/** Image names and their exports: each must be a usable, unique JavaScript export. */
function readNames({ doc, fail }: Reader, imagesNode: YAMLMap): Entry[] {
  const entries: Entry[] = [];
  const byExportName = new Map<string, string>();
  for (const pair of imagesNode.items) {
    const keyOffset = start(pair.key);
    const name = yaml().isScalar(pair.key) ? pair.key.value : pair.key;
    if (typeof name !== "string" || !IMAGE_NAME.test(name)) {
      throw fail(keyOffset, `image name ${describeNode(pair.key)} is not allowed; a name is ${NAME_RULE}`);
    }
    const exportName = toExportName(name);
    if (RESERVED_WORDS.has(exportName)) {
      const problem = `image name "${name}" exports as ${exportName}, a JavaScript reserved word; rename it`;
      throw fail(keyOffset, problem, name);
    }
    const other = byExportName.get(exportName);
    if (other !== undefined) {
      throw fail(keyOffset, `images "${other}" and "${name}" both export as ${exportName}; rename one of them`, name);
    }
    byExportName.set(exportName, name);
    const node = resolve(doc, pair.value);
    if (!yaml().isMap(node)) {
      const at = isEmpty(node) ? keyOffset : start(node);
      throw fail(at, `image "${name}" must be a mapping with a prompt (got ${describeNode(node)})`, name);
    }
    entries.push({ name, exportName, keyOffset, node });
  }
  return entries;
}

/** Every field through the shared schema; the problem that comes first in the file is reported. */
function readFields(
  { doc, fail }: Reader,
  defaultsNode: YAMLMap | undefined,
  entries: Entry[],
): { defaults: ImageParameters; images: ImageOptions[] } {
  const problems: { offset: number; message: string; name: string | undefined }[] = [];
  const check = <T>(schema: FieldsSchema<T>, node: YAMLMap, path: string[], allowed: readonly string[], name?: string) => {
    const result = schema.safeParse(toJS(node) as Record<string, unknown>);
    if (result.success) return result.data;
    for (const issue of result.issues) {
      const unknownKey = issue.code === "unknown_keys";
      const issuePath = [...path, ...issue.path, ...(unknownKey ? [issue.keys[0]!] : [])];
      const offset = offsetOf(doc, issuePath, unknownKey ? "key" : "value");
      problems.push({ offset, message: describeIssue(issue, allowed, "field"), name });
    }
    return undefined;
  };
  // toJS expands aliases; yaml caps the expansion so that a "billion laughs" file cannot hang the build.
  const toJS = (node: YAMLMap): unknown => {
    try {
      return node.toJS(doc);
    } catch (error) {
      throw fail(start(node), `invalid YAML: ${lowerFirst((error as Error).message)}`);
    }
  };

  const defaults = defaultsNode ? check(imageParametersSchema, defaultsNode, ["defaults"], IMAGE_PARAMETER_NAMES) : {};
  const images = entries.map(({ name, node }) =>
    check(imageEntrySchema, node, ["images", name], IMAGE_ENTRY_FIELDS, name),
  );
  const first = problems.sort((a, b) => a.offset - b.offset)[0];
  if (first) throw fail(first.offset, first.message, first.name);
  return { defaults: defaults!, images: images as ImageOptions[] };
}

/**
 * The first key that repeats one before it in the same mapping (as yaml's `uniqueKeys` compares
 * them: scalars by value), with what to say about it.
 */
function firstDuplicateKey(doc: Document): { offset: number; problem: string } | undefined {
  const seen = new WeakMap<object, Set<unknown>>();
  let found: { offset: number; problem: string } | undefined;
  yaml().visit(doc, {
    Pair(_, pair, path) {
      const map = path.at(-1);
      if (!yaml().isScalar(pair.key) || typeof map !== "object" || map === null) return undefined;
      let keys = seen.get(map);
      if (!keys) seen.set(map, (keys = new Set()));
      const key = pair.key.value;
      if (!keys.has(key)) {
        keys.add(key);
        return undefined;
      }
      // path: document, root mapping, the `images` pair, the images mapping.
      const owner = path[2];
      const inImages = path.length === 4 && yaml().isPair(owner) && yaml().isScalar(owner.key) && owner.key.value === "images";
      const problem = inImages
        ? `duplicate image name ${describeValue(key)}; each image needs its own name`
        : `duplicate key ${describeValue(key)}; a key may appear only once in a mapping`;
      const offset = pair.key.range?.[0] ?? 0;
      if (!found || offset < found.offset) found = { offset, problem };
      return undefined;
    },
  });
  return found;
}

/** Friendlier words for the YAML mistakes people make most. */
function describeYamlError(error: YAMLError): string {
  const message = error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
  const lowered = lowerFirst(message);
  switch (error.code) {
    case "TAB_AS_INDENT":
      return "a tab is used for indentation; YAML allows only spaces";
    case "BAD_INDENT":
      return `bad indentation (${lowered}); indent with spaces, every key of one mapping at the same column`;
    default:
      return `invalid YAML: ${lowered}`;
  }
}

/** The offset of the node at `path`, or of the nearest key above it when it is missing or empty. */
function offsetOf(doc: Document, path: readonly PropertyKey[], at: "key" | "value"): number {
  let node: unknown = doc.contents;
  let fallback = 0;
  for (const [index, segment] of path.entries()) {
    node = resolve(doc, node);
    if (yaml().isMap(node)) {
      const pair = node.items.find((p) => yaml().isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) return fallback;
      fallback = start(pair.key);
      if (at === "key" && index === path.length - 1) return fallback;
      node = pair.value;
    } else if (yaml().isSeq(node) && typeof segment === "number" && node.items[segment] !== undefined) {
      node = node.items[segment];
      fallback = start(node);
    } else {
      return fallback;
    }
  }
  return isEmpty(node) ? fallback : start(node);
}

function resolve(doc: Document, node: unknown): unknown {
  return yaml().isAlias(node) ? node.resolve(doc) : node;
}

/** `key:` with nothing after it: point at the key, not at the end of the line. */
function isEmpty(node: unknown): boolean {
  return node === null || node === undefined || (yaml().isScalar(node) && node.value === null && node.source === "");
}

function start(node: unknown): number {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? range[0] : 0;
}

function keyStart(map: YAMLMap, key: string): number {
  return start(map.items.find((p) => yaml().isScalar(p.key) && p.key.value === key)?.key);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function describeNode(node: unknown): string {
  if (yaml().isMap(node)) return "a mapping";
  if (yaml().isSeq(node)) return node.items.length === 0 ? "an empty list" : "a list";
  if (yaml().isScalar(node)) return describeValue(node.value);
  return "nothing";
}
