import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import GithubSlugger from "github-slugger";
import { type Token, lexer, walkTokens } from "marked";

/** A relative link of a Markdown file that does not resolve. */
export interface BrokenLink {
  /** `file:line`, relative to the root. */
  where: string;
  href: string;
  problem: string;
}

// A scheme (https:, mailto:) or a protocol-relative URL: not a file of the repository.
const EXTERNAL = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

/** The text a heading shows, from its inline tokens (code spans and links included, markup not). */
function plainText(tokens: Token[]): string {
  return tokens
    .map((token) => ("tokens" in token && token.tokens ? plainText(token.tokens) : "text" in token ? String(token.text) : ""))
    .join("");
}

/** The anchors GitHub gives the headings of a Markdown text, in its slug rules (duplicates get `-1`, `-2`…). */
export function headingAnchors(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  walkTokens(lexer(markdown), (token) => {
    if (token.type === "heading") anchors.add(slugger.slug(plainText(token.tokens ?? [])));
  });
  return anchors;
}

/** Every link and image target of a Markdown text, as a real parser sees it: none from code. */
function linkTargets(markdown: string): string[] {
  const hrefs: string[] = [];
  walkTokens(lexer(markdown), (token) => {
    if (token.type === "link" || token.type === "image") hrefs.push(token.href);
  });
  return hrefs;
}

/** The line of the first mention of `href` from `from` on, for the message (1 when not found). */
function lineOf(markdown: string, href: string, from: number): { line: number; next: number } {
  const index = markdown.indexOf(href, from);
  if (index < 0) return { line: 1, next: from };
  return { line: markdown.slice(0, index).split("\n").length, next: index + href.length };
}

/**
 * Checks every relative link of `files` (absolute paths): the file or folder it names exists, and
 * its `#anchor`, if any, is a heading of the Markdown file it points into.
 */
export function findBrokenLinks(files: string[], root: string): BrokenLink[] {
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    let found = anchorsOf.get(file);
    if (!found) anchorsOf.set(file, (found = headingAnchors(readFileSync(file, "utf8"))));
    return found;
  };
  const broken: BrokenLink[] = [];
  for (const file of files) {
    const markdown = readFileSync(file, "utf8");
    let searchFrom = 0;
    for (const href of linkTargets(markdown)) {
      const { line, next } = lineOf(markdown, href, searchFrom);
      searchFrom = next;
      if (EXTERNAL.test(href)) continue;
      const report = (problem: string) =>
        broken.push({ where: `${path.relative(root, file).split(path.sep).join("/")}:${line}`, href, problem });
      const hash = href.indexOf("#");
      const target = decodeURIComponent(hash < 0 ? href : href.slice(0, hash));
      const anchor = hash < 0 ? undefined : decodeURIComponent(href.slice(hash + 1));
      const resolved = target === "" ? file : path.resolve(target.startsWith("/") ? root : path.dirname(file), target.replace(/^\//, ""));
      if (!existsSync(resolved)) {
        report(`${path.relative(root, resolved)} does not exist`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!resolved.endsWith(".md")) report(`#${anchor} points into a file that is not Markdown`);
      else if (!anchors(resolved).has(anchor)) {
        report(`no heading of ${path.relative(root, resolved)} has the anchor #${anchor}`);
      }
    }
  }
  return broken;
}
