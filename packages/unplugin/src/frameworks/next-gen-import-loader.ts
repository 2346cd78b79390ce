import path from "node:path";
import { ImagegenError, parseGenId, scanGenImports } from "@imagegen/core";
import MagicString from "magic-string";
import { genModuleSpecifier } from "./next-image-request.js";

interface LoaderContextLike {
  resourcePath: string;
  rootContext?: string;
  sourceMap?: boolean;
  callback(error: Error | null, code?: string, map?: string): void;
}

/**
 * Turbopack, for the app's script files that mention `gen:` (the rule's content condition skips
 * the others before any loader runs): Turbopack has no hook through which a scheme could resolve,
 * so each `gen:` specifier is rewritten into the `next-image/` module that stands for it. A bad
 * `gen:` import fails here, with its place.
 */
export default function imagegenGenImportLoader(this: LoaderContextLike, source: string): void {
  const found = scanGenImports(source, this.resourcePath);
  if (found.length === 0) return this.callback(null, source);
  const code = new MagicString(source);
  for (const { id, line, column, start, end } of found) {
    try {
      parseGenId(id, path.relative(this.rootContext ?? process.cwd(), this.resourcePath) || this.resourcePath);
    } catch (error) {
      if (!(error instanceof ImagegenError)) throw error;
      const message = `${path.relative(this.rootContext ?? process.cwd(), this.resourcePath)}:${line}:${column}: ${error.message}`;
      const plain = new Error(message);
      plain.stack = message;
      return this.callback(plain);
    }
    code.overwrite(start, end, JSON.stringify(genModuleSpecifier(id, this.resourcePath)));
  }
  const map = this.sourceMap === false ? undefined : code.generateMap({ source: this.resourcePath, includeContent: true, hires: "boundary" }).toString();
  this.callback(null, code.toString(), map);
}
