import path from "node:path";
import { scanGenImports } from "@imagegen/core";

interface LoaderContextLike {
  resourcePath: string;
  rootContext?: string;
}

/**
 * Turbopack, for script files that mention `gen:`: it has no hook through which a `gen:` scheme
 * could resolve, so a `gen:` import fails the build here, with its place and what works instead,
 * rather than as a missing module or a silent 404.
 */
export default function imagegenGenImportLoader(this: LoaderContextLike, source: string): string {
  const found = scanGenImports(source, this.resourcePath)[0];
  if (!found) return source;
  const file = path.relative(this.rootContext ?? process.cwd(), this.resourcePath);
  const error = new Error(
    `${file}:${found.line}:${found.column}: "gen:" imports need webpack in Next (next build --webpack, next dev --webpack); ` +
      `with Turbopack, import the image from a *.prompts.yaml manifest instead.`,
  );
  error.stack = error.message;
  throw error;
}
