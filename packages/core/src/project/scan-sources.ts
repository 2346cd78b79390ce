/**
 * Finds `gen:` imports in source text without running it: static `import … from "gen:…"`,
 * side-effect `import "gen:…"`, `export … from "gen:…"` and `import("gen:…")`, outside comments.
 * A small lexer knows strings, templates, comments and regular expressions well enough that
 * a `gen:` inside any of them is not taken for an import.
 */
import { GEN_PREFIX } from "../spec/parse-gen-id.js";
import { lineAndColumn, lineStarts } from "../spec/source-position.js";

/** One `gen:` specifier found in a file; line and column (1-based) are those of its opening quote. */
export interface FoundGenImport {
  id: string;
  line: number;
  column: number;
  /** Offsets of the string literal in the text, quotes included (`end` is exclusive): for a loader that rewrites it. */
  start: number;
  end: number;
}

/** Extensions whose script parts sit inside markup (`<script>`, Astro frontmatter, MDX ESM). */
const EMBEDDED = /\.(vue|svelte|astro|mdx|md|html)$/i;

/** Every `gen:` import in a file's text; `fileName` decides how the script parts are found. */
export function scanGenImports(text: string, fileName = "file.js"): FoundGenImport[] {
  if (!text.includes(GEN_PREFIX)) return [];
  const regions = EMBEDDED.test(fileName) ? scriptRegions(text, fileName) : [{ start: 0, end: text.length }];
  const lines = lineStarts(text);
  const found: FoundGenImport[] = [];
  for (const region of regions) {
    for (const { id, offset, end } of findImports(tokenize(text, region.start, region.end))) {
      found.push({ id, ...lineAndColumn(lines, offset), start: offset, end });
    }
  }
  return found;
}

interface Region {
  start: number;
  end: number;
}

/** The parts of a component, page or markdown file that are JavaScript (a VitePress page's `<script setup>`). */
function scriptRegions(text: string, fileName: string): Region[] {
  const regions: Region[] = [];
  if (/\.mdx$/i.test(fileName)) return mdxEsmRegions(text);
  if (/\.astro$/i.test(fileName)) {
    const frontmatter = /^\s*---\r?\n([\s\S]*?)\r?\n---/.exec(text);
    if (frontmatter) {
      const start = frontmatter.index + frontmatter[0].indexOf(frontmatter[1]!);
      regions.push({ start, end: start + frontmatter[1]!.length });
    }
  }
  const script = /<script\b[^>]*>([\s\S]*?)<\/script\s*>/gi;
  for (let match = script.exec(text); match; match = script.exec(text)) {
    const start = match.index + match[0].indexOf(">") + 1;
    regions.push({ start, end: start + match[1]!.length });
  }
  return regions;
}

/**
 * MDX's ESM: paragraphs that start with `import` or `export` at the start of a line, outside
 * fenced code (where an example import is text, not code).
 */
function mdxEsmRegions(text: string): Region[] {
  const regions: Region[] = [];
  let fence: string | undefined;
  let current: Region | undefined;
  let offset = 0;
  for (const line of text.split("\n")) {
    const end = offset + line.length;
    const fenceMark = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (current) {
      if (line.trim() === "") {
        regions.push(current);
        current = undefined;
      } else {
        current.end = end;
      }
    } else if (fence) {
      if (fenceMark && fenceMark[0] === fence[0] && fenceMark.length >= fence.length) fence = undefined;
    } else if (fenceMark) {
      fence = fenceMark;
    } else if (/^(import|export)\b/.test(line)) {
      current = { start: offset, end };
    }
    offset = end + 1;
  }
  if (current) regions.push(current);
  return regions;
}

type Token =
  | { kind: "word"; value: string; offset: number }
  | { kind: "punct"; value: string; offset: number }
  /** A string, or a template without `${}`; `value` is undefined when it cannot be known statically. */
  | { kind: "string"; value: string | undefined; offset: number; end: number };

const WORD_START = /[A-Za-z_$\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
/** After these words a `/` starts a regular expression, not a division. */
const KEYWORDS_BEFORE_EXPRESSION = new Set([
  "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await",
]);

/**
 * The tokens that matter for imports. Comments vanish, strings carry their decoded value, and
 * numbers, regular expressions and template bodies are skipped. A string or regular expression
 * left open at the end of a line is dropped there, so markup the lexer misreads (an apostrophe
 * in JSX text) costs at most one line.
 */
function tokenize(text: string, start: number, end: number): Token[] {
  const tokens: Token[] = [];
  // One entry per open `${`: the brace depth at which its template resumes.
  const templateDepths: number[] = [];
  let braceDepth = 0;
  let i = start;

  const regexAllowed = () => {
    const last = tokens.at(-1);
    if (!last) return true;
    if (last.kind === "string") return false;
    if (last.kind === "word") return KEYWORDS_BEFORE_EXPRESSION.has(last.value);
    return !/^[)\]}]$/.test(last.value);
  };

  /** Reads a template from after its opening backtick (or a `}` closing a substitution). */
  const readTemplate = (opening: number, atStart: boolean) => {
    let value = "";
    let dynamic = !atStart;
    while (i < end) {
      const c = text[i]!;
      if (c === "`") {
        i++;
        tokens.push({ kind: "string", value: dynamic ? undefined : value, offset: opening, end: i });
        return;
      }
      if (c === "\\") {
        const escape = readEscape(text, i);
        value += escape.value;
        i = escape.next;
        continue;
      }
      if (c === "$" && text[i + 1] === "{") {
        i += 2;
        if (atStart || !dynamic) tokens.push({ kind: "string", value: undefined, offset: opening, end: i });
        templateDepths.push(braceDepth);
        braceDepth++;
        return;
      }
      value += c;
      i++;
    }
    tokens.push({ kind: "string", value: undefined, offset: opening, end: i });
  };

  while (i < end) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      while (i < end && text[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const close = text.indexOf("*/", i + 2);
      i = close === -1 || close + 2 > end ? end : close + 2;
    } else if (c === "'" || c === '"') {
      const opening = i;
      let value = "";
      i++;
      let closed = false;
      while (i < end) {
        const d = text[i]!;
        if (d === c) {
          closed = true;
          i++;
          break;
        }
        if (d === "\n") break;
        if (d === "\\") {
          const escape = readEscape(text, i);
          value += escape.value;
          i = escape.next;
        } else {
          value += d;
          i++;
        }
      }
      if (closed) tokens.push({ kind: "string", value, offset: opening, end: i });
    } else if (c === "`") {
      const opening = i;
      i++;
      readTemplate(opening, true);
    } else if (c === "/" && regexAllowed()) {
      i = skipRegex(text, i, end);
    } else if (WORD_START.test(c)) {
      const begin = i;
      while (i < end && WORD_PART.test(text[i]!)) i++;
      tokens.push({ kind: "word", value: text.slice(begin, i), offset: begin });
    } else if (/\d/.test(c) || (c === "." && next !== undefined && /\d/.test(next))) {
      while (i < end && /[\w.]/.test(text[i]!)) i++;
      tokens.push({ kind: "word", value: "0", offset: i });
    } else if (/\s/.test(c)) {
      i++;
    } else {
      if (c === "{") braceDepth++;
      if (c === "}") {
        braceDepth--;
        if (templateDepths.at(-1) === braceDepth) {
          templateDepths.pop();
          const opening = i;
          i++;
          readTemplate(opening, false);
          continue;
        }
      }
      tokens.push({ kind: "punct", value: c, offset: i });
      i++;
    }
  }
  return tokens;
}

/** Skips a regular expression literal (with its classes and flags); stops at the end of the line. */
function skipRegex(text: string, start: number, end: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < end) {
    const c = text[i]!;
    if (c === "\n") return i;
    if (c === "\\") i += 2;
    else {
      if (c === "[") inClass = true;
      else if (c === "]") inClass = false;
      else if (c === "/" && !inClass) {
        i++;
        while (i < end && /[a-z]/i.test(text[i]!)) i++;
        return i;
      }
      i++;
    }
  }
  return i;
}

/** Decodes one escape sequence of a JavaScript string, from its backslash. */
function readEscape(text: string, at: number): { value: string; next: number } {
  const c = text[at + 1];
  if (c === undefined) return { value: "", next: at + 1 };
  const simple: Record<string, string> = { n: "\n", r: "\r", t: "\t", b: "\b", f: "\f", v: "\v", 0: "\0" };
  if (c in simple && !(c === "0" && /\d/.test(text[at + 2] ?? ""))) return { value: simple[c]!, next: at + 2 };
  if (c === "\r" && text[at + 2] === "\n") return { value: "", next: at + 3 };
  if (c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029") return { value: "", next: at + 2 };
  if (c === "x") {
    const hex = text.slice(at + 2, at + 4);
    if (/^[0-9a-fA-F]{2}$/.test(hex)) return { value: String.fromCharCode(parseInt(hex, 16)), next: at + 4 };
  }
  if (c === "u") {
    const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(text.slice(at + 2, at + 12));
    if (braced) {
      const code = parseInt(braced[1]!, 16);
      if (code <= 0x10ffff) return { value: String.fromCodePoint(code), next: at + 2 + braced[0].length };
    }
    const hex = text.slice(at + 2, at + 6);
    if (/^[0-9a-fA-F]{4}$/.test(hex)) return { value: String.fromCharCode(parseInt(hex, 16)), next: at + 6 };
  }
  return { value: c, next: at + 2 };
}

/** Words and punctuation that may stand between `import`/`export` and `from`. */
function isBindingToken(token: Token): boolean {
  if (token.kind === "word") return token.value !== "from" && token.value !== "import" && token.value !== "export";
  if (token.kind === "string") return true; // `export { "a-b" as ab } from …`
  return token.value === "{" || token.value === "}" || token.value === "," || token.value === "*";
}

function findImports(tokens: Token[]): { id: string; offset: number; end: number }[] {
  const found: { id: string; offset: number; end: number }[] = [];
  const take = (token: Token | undefined) => {
    if (token?.kind === "string" && token.value !== undefined && token.value.startsWith(GEN_PREFIX)) {
      found.push({ id: token.value, offset: token.offset, end: token.end });
    }
  };
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t]!;
    if (token.kind !== "word" || (token.value !== "import" && token.value !== "export")) continue;
    const previous = tokens[t - 1];
    // `foo.import(…)` or `obj?.import` is a property, not an import.
    if (previous?.kind === "punct" && previous.value === ".") continue;
    const next = tokens[t + 1];
    // `import type … from` and `export type … from` are erased by TypeScript: no bundler loads them.
    // (`import type from "…"` imports a default binding named `type`.)
    const afterNext = tokens[t + 2];
    if (next?.kind === "word" && next.value === "type" && !(afterNext?.kind === "word" && afterNext.value === "from") && !(afterNext?.kind === "punct" && afterNext.value === ",")) {
      continue;
    }
    if (token.value === "import" && next?.kind === "string") {
      take(next);
      continue;
    }
    if (token.value === "import" && next?.kind === "punct" && next.value === "(") {
      take(tokens[t + 2]);
      continue;
    }
    // `import a, { b as c } from "…"`, `export * as ns from "…"`, `import type X from "…"`.
    let u = t + 1;
    // Bounded so that a stray `import` word in prose cannot make the scan quadratic.
    while (u < tokens.length && u - t < 200 && isBindingToken(tokens[u]!)) u++;
    if (u > t + 1 && tokens[u]?.kind === "word" && tokens[u]!.value === "from") take(tokens[u + 1]);
  }
  return found;
}
