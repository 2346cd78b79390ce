import type { ArrayExpression, Node, ObjectExpression, Program } from "@babel/types";
import MagicString from "magic-string";
import { parseModule } from "magicast";

/**
 * A JavaScript or TypeScript module to add a few lines to. magicast parses it (Babel, with
 * TypeScript and JSX); the additions are spliced into the text at the nodes' offsets, so that
 * every line the user wrote stays exactly as it was: reprinting through recast reflows a
 * multi-line array and re-indents tabs, which makes a diff nobody wants to review.
 */
export class ModuleText {
  readonly program: Program;
  /** The text as parsed: line ends as `\n` (recast's parser reads it so; CRLF comes back at the end). */
  readonly code: string;
  readonly #text: MagicString;
  readonly #crlf: boolean;
  /** `"` or `'`, as the file's string literals mostly are. */
  readonly quote: string;
  /** `;` when the file ends its statements with one, else nothing. */
  readonly semi: string;
  /** One level of indentation, as the file indents. */
  readonly indentUnit: string;

  /** Throws magicast's (Babel's) syntax error for a file that does not parse. */
  constructor(original: string) {
    this.#crlf = original.includes("\r\n");
    this.code = this.#crlf ? original.replaceAll("\r\n", "\n") : original;
    // A tab counts one column, so that the nodes' offsets are offsets in this text (recast
    // expands leading tabs to `tabWidth` columns, 4 by default).
    this.program = parseModule(this.code, { tabWidth: 1 }).$ast as Program;
    this.#text = new MagicString(this.code);
    this.quote = quoteOf(this.program, this.code);
    this.semi = semicolonOf(this.program, this.code);
    this.indentUnit = indentUnitOf(this.code);
  }

  /** A string literal in the file's quotes. */
  string(value: string): string {
    return `${this.quote}${value.replaceAll("\\", "\\\\").replaceAll(this.quote, `\\${this.quote}`)}${this.quote}`;
  }

  /** The file with every addition, with its own line ends. */
  toString(): string {
    const text = this.#text.toString();
    return this.#crlf ? text.replaceAll("\n", "\r\n") : text;
  }

  /** Adds `item` as the last (or first) element of `array`, on a line of its own if the array has one per line. */
  addToArray(array: ArrayExpression, item: string, position: "first" | "last" = "last"): void {
    const elements = array.elements.filter((element): element is NonNullable<typeof element> => element !== null);
    if (elements.length === 0) {
      this.#fillEmpty(array, item);
      return;
    }
    if (position === "first") {
      const first = elements[0]!;
      const ownLine = this.#startsLine(first.start!) && this.#spansLines(array);
      this.#text.appendLeft(first.start!, ownLine ? `${item},\n${this.#indentOf(first.start!)}` : `${item}, `);
      return;
    }
    this.#addAfter(elements.at(-1)!, array, item);
  }

  /** Adds `key: value` as the last property of `object`. */
  addProperty(object: ObjectExpression, key: string, value: string): void {
    const last = object.properties.at(-1);
    if (last) this.#addAfter(last, object, `${key}: ${value}`);
    else this.#fillEmpty(object, `${key}: ${value}`);
  }

  /** Puts `before` and `after` around `node`: a call around an expression. */
  wrap(node: Node, before: string, after: string): void {
    this.#text.appendLeft(node.start!, before);
    this.#text.prependRight(node.end!, after);
  }

  /**
   * Adds an import (or `require`) statement after the module's last one; in a module with none,
   * before its first statement and the comments that document it, below a `// @ts-check`.
   */
  addImport(statement: string): void {
    const body = this.program.body;
    const imports = body.filter((node) => node.type === "ImportDeclaration" || isRequireDeclaration(node));
    const last = imports.at(-1);
    if (last) {
      this.#text.appendLeft(last.end!, `\n${statement}`);
      return;
    }
    const first = body[0];
    let at = this.program.directives.at(-1)?.end ?? 0;
    if (first) {
      const comment = first.leadingComments?.find((c) => !/^\s*@ts-(no)?check\b/.test(c.value) && c.start! >= at);
      at = Math.max(at, comment?.start ?? first.start!);
    }
    const separator = first ? "\n\n" : "\n";
    this.#text.appendLeft(at, `${statement}${separator}`);
  }

  /** Adds `item` after `last`, the last element of `container` (an array or object literal). */
  #addAfter(last: Node, container: Node, item: string): void {
    const closing = container.end! - 1;
    const between = this.code.slice(last.end!, closing);
    const comma = /^\s*,/.exec(between);
    const commaEnd = comma ? last.end! + comma[0].length : last.end!;
    if (!this.#spansLines(container) || !this.#startsLine(last.start!)) {
      this.#text.appendLeft(commaEnd, comma ? ` ${item},` : `, ${item}`);
      return;
    }
    // One per line: the new one goes on its own line below, indented alike, after any comment
    // that ends the last one's line; the trailing comma is kept if the file writes one.
    const lineEnd = this.#lineEnd(commaEnd);
    const indent = this.#indentOf(last.start!);
    if (lineEnd >= closing) {
      this.#text.appendLeft(commaEnd, `${comma ? "" : ","}\n${indent}${item}${comma ? "," : ""}`);
      return;
    }
    if (!comma) this.#text.appendLeft(last.end!, ",");
    this.#text.appendLeft(lineEnd, `\n${indent}${item}${comma ? "," : ""}`);
  }

  /** `[]` or `{}` (maybe with comments inside): one line for one short item, else a line of its own. */
  #fillEmpty(container: Node, item: string): void {
    const open = container.start! + 1;
    const closing = container.end! - 1;
    const inside = this.code.slice(open, closing);
    if (container.type === "ArrayExpression" && !inside.includes("\n")) {
      this.#text.appendLeft(open, item);
      return;
    }
    const outer = this.#indentOf(container.start!);
    if (!inside.includes("\n")) {
      // `{}` or `{ }`: opened onto lines of their own.
      const lines = `\n${outer}${this.indentUnit}${item},\n${outer}`;
      if (open === closing) this.#text.appendLeft(open, lines);
      else this.#text.overwrite(open, closing, lines);
      return;
    }
    // `{\n  /* config options here */\n}`: the item goes on the line before the closing brace.
    const closingLine = this.#lineStart(closing);
    this.#text.appendLeft(closingLine, `${outer}${this.indentUnit}${item},\n`);
  }

  #lineStart(offset: number): number {
    return this.code.lastIndexOf("\n", offset - 1) + 1;
  }

  #lineEnd(offset: number): number {
    const newline = this.code.indexOf("\n", offset);
    return newline < 0 ? this.code.length : newline;
  }

  /** The whitespace before the first character of `offset`'s line. */
  #indentOf(offset: number): string {
    return /^[ \t]*/.exec(this.code.slice(this.#lineStart(offset)))![0];
  }

  #startsLine(offset: number): boolean {
    return this.code.slice(this.#lineStart(offset), offset).trim() === "";
  }

  #spansLines(node: Node): boolean {
    return this.code.slice(node.start!, node.end!).includes("\n");
  }
}

/** `const x = require("…")` and `const { a } = require("…")`. */
export function isRequireDeclaration(node: Node): boolean {
  return (
    node.type === "VariableDeclaration" &&
    node.declarations.some((declaration) => {
      let init = declaration.init;
      while (init?.type === "MemberExpression") init = init.object;
      return init?.type === "CallExpression" && init.callee.type === "Identifier" && init.callee.name === "require";
    })
  );
}

/** The smallest indentation of the file's indented lines: a tab, or so many spaces (2 if none). */
function indentUnitOf(code: string): string {
  let unit: string | undefined;
  // A block comment's continuation lines (` * …`) are not indentation.
  for (const [, indent] of code.matchAll(/^([ \t]+)[^\s*]/gm)) {
    if (indent!.startsWith("\t")) return "\t";
    if (unit === undefined || indent!.length < unit.length) unit = indent!;
  }
  return unit ?? "  ";
}

/** The quote most of the file's string literals use (import sources included); `"` if none. */
function quoteOf(program: Program, code: string): string {
  let single = 0;
  let double = 0;
  walk(program, (node) => {
    if (node.type !== "StringLiteral") return;
    if (code[node.start!] === "'") single++;
    else double++;
  });
  return single > double ? "'" : '"';
}

/** `;` if most top-level statements end with one (Prettier's `semi: false` writes none). */
function semicolonOf(program: Program, code: string): string {
  const ends = program.body.map((node) => code[node.end! - 1] === ";");
  return ends.filter(Boolean).length * 2 >= ends.length ? ";" : "";
}

/** Every node below `node` (itself included), depth first. */
export function walk(node: Node, visit: (node: Node) => void): void {
  visit(node);
  for (const [key, value] of Object.entries(node)) {
    if (key === "loc" || key.endsWith("Comments") || key === "comments" || value === null || typeof value !== "object") continue;
    for (const child of Array.isArray(value) ? value : [value]) {
      if (child && typeof child.type === "string") walk(child as Node, visit);
    }
  }
}
