import { UsageError } from "../output.js";

/** The setups `imagegen init` wires. Apart from their table (setups.ts), so that parsing `--setup` loads nothing of init. */
export const SETUP_NAMES = ["vite", "astro", "sveltekit", "nuxt", "next", "webpack", "rspack", "rollup", "rolldown", "esbuild"] as const;
export type SetupName = (typeof SETUP_NAMES)[number];

/** `--setup`'s value, checked. */
export function parseSetupName(value: string): SetupName {
  const name = value.toLowerCase() as SetupName;
  if (!SETUP_NAMES.includes(name)) throw new UsageError(`--setup must be one of ${SETUP_NAMES.join(", ")} (got "${value}")`);
  return name;
}
