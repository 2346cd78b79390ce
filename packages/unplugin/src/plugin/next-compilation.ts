// unplugin's usual recipe for Next (the webpack plugin pushed in next.config's `webpack()`) builds,
// but Next serves nothing it does not place itself: every image would be a 404. Refused instead.

/** What this reads of a webpack compiler's options. */
interface CompilerOptionsLike {
  resolveLoader?: { alias?: unknown };
}

/** Whether a webpack compilation is one of Next's (its loaders are aliased by name). */
export function isNextCompilation(options: CompilerOptionsLike): boolean {
  const alias = options.resolveLoader?.alias;
  return typeof alias === "object" && alias !== null && !Array.isArray(alias) && "next-app-loader" in alias;
}

export const PLUGIN_INSIDE_NEXT =
  'unplugin-imagegen/webpack cannot place images in a Next build (they would be 404s): remove it from next.config\'s webpack() and wrap the config instead, export default withImagegen(nextConfig) with withImagegen from "unplugin-imagegen/next".';
