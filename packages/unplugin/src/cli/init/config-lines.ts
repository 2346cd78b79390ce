import { NUXT_MODULE } from "./add-nuxt-module.js";
import type { Setup } from "./setups.js";
import { NEXT_ENTRY } from "./wrap-next-config.js";

/** A config written as CommonJS: `module.exports` or `require()`, and no `import`/`export`. */
export function isCommonJs(file: string, code: string): boolean {
  if (file.endsWith(".cjs") || file.endsWith(".cts")) return true;
  return /\bmodule\.exports\b|\brequire\(/.test(code) && !/^\s*(import|export)\b/m.test(code);
}

/**
 * The lines that wire imagegen into a setup's config, for a user to add where `init` cannot:
 * the same wiring as the edit would make.
 */
export function configLines(setup: Setup, { cjs = false, fn = false }: { cjs?: boolean; fn?: boolean } = {}): string[] {
  const wiring = setup.wiring;
  const object = fn ? "the config object the function returns" : "the config object";
  switch (wiring.kind) {
    case "plugin": {
      const importLine = cjs ? `const imagegen = require("${wiring.entry}").default;` : `import imagegen from "${wiring.entry}";`;
      const where = setup.name === "esbuild" ? "the options of esbuild.build() or esbuild.context()" : object;
      const order = wiring.first ? `, before ${setup.name === "sveltekit" ? "sveltekit()" : "the others"}` : "";
      return [importLine, `${wiring.key}: [imagegen()], // in ${where}${order}`];
    }
    case "nuxt-module":
      return [`modules: ["${NUXT_MODULE}"], // in ${fn ? object : "the object given to defineNuxtConfig()"}`];
    case "next-wrap": {
      const importLine = cjs ? `const { withImagegen } = require("${NEXT_ENTRY}");` : `import { withImagegen } from "${NEXT_ENTRY}";`;
      if (fn) return [importLine, `return withImagegen(nextConfig); // ${object}, wrapped`];
      return [importLine, `${cjs ? "module.exports =" : "export default"} withImagegen(nextConfig); // ${object}, wrapped`];
    }
  }
}

/** A build script for an esbuild project that has none (its command line takes no plugins). */
export function esbuildScriptLines(entry: string): string[] {
  return [
    'import * as esbuild from "esbuild";',
    'import imagegen from "unplugin-imagegen/esbuild";',
    "",
    "await esbuild.build({",
    `  entryPoints: ["${entry}"],`,
    "  bundle: true,",
    '  outdir: "dist",',
    "  plugins: [imagegen()],",
    "});",
  ];
}

/** A config file for a setup that may have none (Vite, Astro, Nuxt, Next): made by `init` when there is none. */
export function newConfigFile(setup: Setup, typescript: boolean): { file: string; text: string } | undefined {
  switch (setup.name) {
    case "vite":
      return {
        file: typescript ? "vite.config.ts" : "vite.config.mjs",
        text: 'import imagegen from "unplugin-imagegen/vite";\nimport { defineConfig } from "vite";\n\nexport default defineConfig({\n  plugins: [imagegen()],\n});\n',
      };
    case "astro":
      return {
        file: "astro.config.mjs",
        text: 'import { defineConfig } from "astro/config";\nimport imagegen from "unplugin-imagegen/astro";\n\nexport default defineConfig({\n  integrations: [imagegen()],\n});\n',
      };
    case "nuxt":
      return { file: "nuxt.config.ts", text: `export default defineNuxtConfig({\n  modules: ["${NUXT_MODULE}"],\n});\n` };
    case "next":
      return {
        file: typescript ? "next.config.ts" : "next.config.mjs",
        text: `import { withImagegen } from "${NEXT_ENTRY}";\n\nexport default withImagegen({});\n`,
      };
    default:
      return undefined;
  }
}
