import type { SetupName } from "./setup-names.js";

export type { SetupName };

/** How the plugin goes into a setup's config file. */
export type Wiring =
  /** `import imagegen from "<entry>"` and `imagegen()` in the config's `key` array. */
  | { kind: "plugin"; entry: string; key: "plugins" | "integrations"; first?: boolean }
  /** `"unplugin-imagegen/nuxt"` in `modules`. */
  | { kind: "nuxt-module" }
  /** `export default withImagegen(nextConfig)`. */
  | { kind: "next-wrap" };

export interface Setup {
  name: SetupName;
  /** As people write it: "SvelteKit". */
  title: string;
  /** Packages in package.json that mark it. */
  packages: string[];
  /** Its config files, the preferred first (esbuild: the build scripts looked for). */
  configFiles: string[];
  wiring: Wiring;
  /** Where the sample manifest goes: the first of these folders that exists, else the root. */
  sourceDirs: string[];
  /**
   * Where `/// <reference types="unplugin-imagegen/client" />` goes when the tsconfig lists no
   * `types`: the first of `existing` that exists, else a new `create`. None: the setup declares them.
   */
  typesFile?: { existing: string[]; create: string };
  /** Where the pages that show images are, for the import the sample suggests; default: the manifest's folder. */
  pagesDir?: string;
}

const SCRIPT_EXTENSIONS = ["ts", "mts", "js", "mjs", "cts", "cjs"];

/** `vite.config.ts`, `vite.config.mts`…: a config file's names, in the order a tool looks for them. */
function configNames(base: string): string[] {
  return SCRIPT_EXTENSIONS.map((extension) => `${base}.${extension}`);
}

const BUNDLER_TYPES = { existing: ["src/env.d.ts"], create: "src/imagegen-env.d.ts" };

/** A bundler whose config is `<name>.config.*` and whose plugin is `unplugin-imagegen/<name>`. */
function bundler(name: SetupName, title: string, packages: string[]): Setup {
  const wiring: Wiring = { kind: "plugin", entry: `unplugin-imagegen/${name}`, key: "plugins" };
  return { name, title, packages, configFiles: configNames(`${name}.config`), wiring, sourceDirs: ["src"], typesFile: BUNDLER_TYPES };
}

/** Frameworks first: each has a bundler among its dependencies, which must not decide. */
export const SETUPS: readonly Setup[] = [
  {
    name: "astro",
    title: "Astro",
    packages: ["astro"],
    configFiles: configNames("astro.config"),
    wiring: { kind: "plugin", entry: "unplugin-imagegen/astro", key: "integrations" },
    sourceDirs: ["src"],
    pagesDir: "src/pages",
    // Astro's starters have no tsconfig `types` (they come from astro/tsconfigs); its docs put
    // global declarations in src/env.d.ts.
    typesFile: { existing: ["src/env.d.ts"], create: "src/env.d.ts" },
  },
  {
    name: "sveltekit",
    title: "SvelteKit",
    packages: ["@sveltejs/kit"],
    configFiles: configNames("vite.config"),
    // Before sveltekit(), as in examples/sveltekit.
    wiring: { kind: "plugin", entry: "unplugin-imagegen/vite", key: "plugins", first: true },
    sourceDirs: ["src/lib", "src"],
    typesFile: { existing: ["src/app.d.ts"], create: "src/app.d.ts" },
    // A relative import, as examples/sveltekit has: Kit 2 names src/lib `$lib`, Kit 3 `#lib`.
    pagesDir: "src/routes",
  },
  {
    name: "nuxt",
    title: "Nuxt",
    packages: ["nuxt", "nuxt-nightly"],
    configFiles: configNames("nuxt.config"),
    wiring: { kind: "nuxt-module" },
    // Nuxt 4 keeps the app in app/; Nuxt 3's lived at the root.
    sourceDirs: ["app"],
    // The module adds the declarations to Nuxt's generated types itself.
  },
  {
    name: "next",
    title: "Next.js",
    packages: ["next"],
    configFiles: configNames("next.config"),
    wiring: { kind: "next-wrap" },
    sourceDirs: ["src/app", "app", "src"],
    // next-env.d.ts is Next's to rewrite; its docs add declarations in a file of one's own.
    typesFile: { existing: [], create: "imagegen-env.d.ts" },
  },
  {
    name: "vite",
    title: "Vite",
    packages: ["vite"],
    configFiles: configNames("vite.config"),
    wiring: { kind: "plugin", entry: "unplugin-imagegen/vite", key: "plugins" },
    sourceDirs: ["src"],
    typesFile: { existing: ["src/vite-env.d.ts", "src/env.d.ts"], create: "src/imagegen-env.d.ts" },
  },
  bundler("webpack", "webpack", ["webpack", "webpack-cli"]),
  bundler("rspack", "Rspack", ["@rspack/core", "@rspack/cli"]),
  bundler("rollup", "Rollup", ["rollup"]),
  bundler("rolldown", "Rolldown", ["rolldown"]),
  {
    name: "esbuild",
    title: "esbuild",
    packages: ["esbuild"],
    // esbuild has no config file: these are the build scripts people name so, besides those
    // that package.json's scripts run.
    configFiles: [...configNames("esbuild.config"), ...configNames("build"), ...configNames("scripts/build")],
    wiring: { kind: "plugin", entry: "unplugin-imagegen/esbuild", key: "plugins" },
    sourceDirs: ["src"],
    typesFile: BUNDLER_TYPES,
  },
];
