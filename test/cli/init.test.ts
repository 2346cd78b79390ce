import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { applyPatch, parsePatch } from "diff";
import { afterAll, describe, expect, it } from "vitest";
import { Output } from "../../packages/unplugin/src/cli/output.js";
import { runCli as runCliHere } from "../../packages/unplugin/src/cli/program.js";
import { listFiles } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";

// `imagegen init` on the config files the tools' own starters write, and on those it must leave
// alone. Most runs call the CLI's entry in this process (a process per run would cost a second of
// start-up each); the built bin is run where its exit code and streams are the point, and by
// test/init-setups.test.ts, which builds each setup after init. The projects live in the
// system's temp folder, away from this workspace's lockfile.

const scratch = await mkdtemp(path.join(os.tmpdir(), "imagegen-init-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

type Files = Record<string, string>;

async function project(files: Files, packageJson: object = { name: "site", private: true }): Promise<string> {
  const root = await mkdtemp(path.join(scratch, "project-"));
  for (const [file, text] of Object.entries({ "package.json": `${JSON.stringify(packageJson, null, 2)}\n`, ...files })) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), text);
  }
  return root;
}

/** Every file of the project and its bytes. */
async function snapshot(root: string): Promise<Files> {
  const files: Files = {};
  for (const file of await listFiles(root)) files[file.split(path.sep).join("/")] = await readFile(path.join(root, file), "latin1");
  return files;
}

/** `imagegen init --root <root> …`, in this process: its exit code and what it printed. */
async function init(root: string, ...args: string[]) {
  const stream = () => ({ text: "", write(chunk: string) { this.text += chunk; return true; } });
  const [stdout, stderr] = [stream(), stream()];
  const code = await runCliHere(["init", "--root", root, ...args], new Output(stdout as unknown as NodeJS.WriteStream, stderr as unknown as NodeJS.WriteStream));
  return { code, stdout: stdout.text, stderr: stderr.text };
}
const read = (root: string, file: string) => readFile(path.join(root, file), "utf8");

interface EditCase {
  name: string;
  setup: string;
  file: string;
  before: string;
  after: string;
}

const EDITS: EditCase[] = [
  {
    name: "SvelteKit (sv create, tabs): imagegen() on a line of its own, before sveltekit()",
    setup: "sveltekit",
    file: "vite.config.ts",
    before: `import adapter from '@sveltejs/adapter-auto';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
\tplugins: [
\t\tsveltekit({
\t\t\t// adapter-auto only supports some environments.
\t\t\tadapter: adapter()
\t\t})
\t]
});
`,
    after: `import adapter from '@sveltejs/adapter-auto';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';
import imagegen from 'unplugin-imagegen/vite';

export default defineConfig({
\tplugins: [
\t\timagegen(),
\t\tsveltekit({
\t\t\t// adapter-auto only supports some environments.
\t\t\tadapter: adapter()
\t\t})
\t]
});
`,
  },
  {
    name: "Vite (the React starter, no semicolons): appended to a one-line plugins array",
    setup: "vite",
    file: "vite.config.ts",
    before: "import react from '@vitejs/plugin-react'\nimport { defineConfig } from 'vite'\n\n// https://vite.dev/config/\nexport default defineConfig({\n  plugins: [react()],\n})\n",
    after:
      "import react from '@vitejs/plugin-react'\nimport { defineConfig } from 'vite'\nimport imagegen from 'unplugin-imagegen/vite'\n\n// https://vite.dev/config/\nexport default defineConfig({\n  plugins: [react(), imagegen()],\n})\n",
  },
  {
    name: "Vite: a config in a variable, with satisfies",
    setup: "vite",
    file: "vite.config.ts",
    before: 'import type { UserConfig } from "vite";\n\nconst config = {\n  base: "/app/",\n} satisfies UserConfig;\n\nexport default config;\n',
    after:
      'import type { UserConfig } from "vite";\nimport imagegen from "unplugin-imagegen/vite";\n\nconst config = {\n  base: "/app/",\n  plugins: [imagegen()],\n} satisfies UserConfig;\n\nexport default config;\n',
  },
  {
    name: "Vite: a name the file uses already is not shadowed",
    setup: "vite",
    file: "vite.config.mjs",
    before: 'import imagegen from "./local-imagegen.mjs";\n\nexport default { plugins: [imagegen()] };\n',
    after: 'import imagegen from "./local-imagegen.mjs";\nimport imagegenPlugin from "unplugin-imagegen/vite";\n\nexport default { plugins: [imagegen(), imagegenPlugin()] };\n',
  },
  {
    name: "Vite: CRLF line ends stay CRLF",
    setup: "vite",
    file: "vite.config.js",
    before: "export default {\r\n  plugins: [\r\n    legacy(), // old browsers\r\n  ],\r\n};\r\n",
    after: 'import imagegen from "unplugin-imagegen/vite";\r\n\r\nexport default {\r\n  plugins: [\r\n    legacy(), // old browsers\r\n    imagegen(),\r\n  ],\r\n};\r\n',
  },
  {
    name: "Astro (the minimal starter): integrations in an empty defineConfig({})",
    setup: "astro",
    file: "astro.config.mjs",
    before: "// @ts-check\nimport { defineConfig } from 'astro/config';\n\n// https://astro.build/config\nexport default defineConfig({});\n",
    after:
      "// @ts-check\nimport { defineConfig } from 'astro/config';\nimport imagegen from 'unplugin-imagegen/astro';\n\n// https://astro.build/config\nexport default defineConfig({\n  integrations: [imagegen()],\n});\n",
  },
  {
    name: "Nuxt (nuxi init): the module in modules, in the file's quotes",
    setup: "nuxt",
    file: "nuxt.config.ts",
    before: "// https://nuxt.com/docs/api/configuration/nuxt-config\nexport default defineNuxtConfig({\n  compatibilityDate: '2025-07-15',\n  devtools: { enabled: true }\n})\n",
    after:
      "// https://nuxt.com/docs/api/configuration/nuxt-config\nexport default defineNuxtConfig({\n  compatibilityDate: '2025-07-15',\n  devtools: { enabled: true },\n  modules: ['unplugin-imagegen/nuxt']\n})\n",
  },
  {
    name: "Next (create-next-app, TypeScript): the export wrapped in withImagegen",
    setup: "next",
    file: "next.config.ts",
    before: 'import type { NextConfig } from "next";\n\nconst nextConfig: NextConfig = {\n  /* config options here */\n};\n\nexport default nextConfig;\n',
    after:
      'import type { NextConfig } from "next";\nimport { withImagegen } from "unplugin-imagegen/next";\n\nconst nextConfig: NextConfig = {\n  /* config options here */\n};\n\nexport default withImagegen(nextConfig);\n',
  },
  {
    name: "Next (CommonJS, no strings, no semicolons): a require above the JSDoc type of the config",
    setup: "next",
    file: "next.config.js",
    before: "/** @type {import('next').NextConfig} */\nconst nextConfig = {\n  reactStrictMode: true,\n}\n\nmodule.exports = nextConfig\n",
    after:
      'const { withImagegen } = require("unplugin-imagegen/next")\n\n/** @type {import(\'next\').NextConfig} */\nconst nextConfig = {\n  reactStrictMode: true,\n}\n\nmodule.exports = withImagegen(nextConfig)\n',
  },
  {
    name: "Next: another plugin's wrapper is wrapped in turn",
    setup: "next",
    file: "next.config.mjs",
    before: 'import createMDX from "@next/mdx";\n\nconst withMDX = createMDX();\n\nexport default withMDX({ pageExtensions: ["js", "mdx"] });\n',
    after:
      'import createMDX from "@next/mdx";\nimport { withImagegen } from "unplugin-imagegen/next";\n\nconst withMDX = createMDX();\n\nexport default withImagegen(withMDX({ pageExtensions: ["js", "mdx"] }));\n',
  },
  {
    name: "webpack (its Getting Started, CommonJS): a require and a plugins array",
    setup: "webpack",
    file: "webpack.config.js",
    before: "const path = require('path');\n\nmodule.exports = {\n  entry: './src/index.js',\n  output: {\n    filename: 'main.js',\n    path: path.resolve(__dirname, 'dist'),\n  },\n};\n",
    after:
      "const path = require('path');\nconst imagegen = require('unplugin-imagegen/webpack').default;\n\nmodule.exports = {\n  entry: './src/index.js',\n  output: {\n    filename: 'main.js',\n    path: path.resolve(__dirname, 'dist'),\n  },\n  plugins: [imagegen()],\n};\n",
  },
  {
    name: "Rspack (create-rspack): after the last plugin of a multi-line array, trailing comma kept",
    setup: "rspack",
    file: "rspack.config.mjs",
    before: 'import { rspack } from "@rspack/core";\n\nexport default {\n  plugins: [\n    new rspack.HtmlRspackPlugin({\n      template: "./index.html",\n    }),\n  ],\n};\n',
    after:
      'import { rspack } from "@rspack/core";\nimport imagegen from "unplugin-imagegen/rspack";\n\nexport default {\n  plugins: [\n    new rspack.HtmlRspackPlugin({\n      template: "./index.html",\n    }),\n    imagegen(),\n  ],\n};\n',
  },
  {
    name: "Rollup (tabs, no imports): the import at the top, plugins after the last option",
    setup: "rollup",
    file: "rollup.config.mjs",
    before: "export default {\n\tinput: 'src/main.js',\n\toutput: {\n\t\tdir: 'dist',\n\t\tformat: 'es'\n\t}\n};\n",
    after: "import imagegen from 'unplugin-imagegen/rollup';\n\nexport default {\n\tinput: 'src/main.js',\n\toutput: {\n\t\tdir: 'dist',\n\t\tformat: 'es'\n\t},\n\tplugins: [imagegen()]\n};\n",
  },
  {
    name: "esbuild: the options of build() and context() in a CommonJS build script",
    setup: "esbuild",
    file: "build.cjs",
    before:
      'const esbuild = require("esbuild");\n\nconst options = {\n  entryPoints: ["src/app.js"],\n  bundle: true,\n  outdir: "dist",\n  plugins: [],\n};\n\nif (process.argv.includes("--watch")) {\n  esbuild.context(options).then((context) => context.watch());\n} else {\n  esbuild.build(options);\n}\n',
    after:
      'const esbuild = require("esbuild");\nconst imagegen = require("unplugin-imagegen/esbuild").default;\n\nconst options = {\n  entryPoints: ["src/app.js"],\n  bundle: true,\n  outdir: "dist",\n  plugins: [imagegen()],\n};\n\nif (process.argv.includes("--watch")) {\n  esbuild.context(options).then((context) => context.watch());\n} else {\n  esbuild.build(options);\n}\n',
  },
];

describe("imagegen init: config files", () => {
  it.each(EDITS)("$name; a second run changes nothing", async ({ setup, file, before, after }) => {
    const root = await project({ [file]: before });
    const first = await init(root, "--setup", setup);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(await read(root, file)).toBe(after);

    const written = await snapshot(root);
    const second = await init(root, "--setup", setup);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`keep ${file}: imports unplugin-imagegen already`);
    expect(second.stdout).toContain("imagegen is set up already: nothing to change.");
    expect(await snapshot(root)).toEqual(written);
  });

  it("finds the build script that package.json runs, and adds to the esbuild.build() in it", async () => {
    const script = "import * as esbuild from 'esbuild'\n\nawait esbuild.build({\n  entryPoints: ['src/app.ts'],\n  bundle: true,\n  outdir: 'dist',\n})\n";
    const root = await project({ "tools/bundle.mjs": script }, { name: "site", scripts: { build: "node tools/bundle.mjs --minify" }, devDependencies: { esbuild: "^0.28.2" } });
    const result = await init(root);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toContain("Found esbuild (esbuild in devDependencies).");
    expect(await read(root, "tools/bundle.mjs")).toBe(
      "import * as esbuild from 'esbuild'\nimport imagegen from 'unplugin-imagegen/esbuild'\n\nawait esbuild.build({\n  entryPoints: ['src/app.ts'],\n  bundle: true,\n  outdir: 'dist',\n  plugins: [imagegen()],\n})\n",
    );
  });
});

interface RefusalCase {
  name: string;
  setup: string;
  file: string;
  text: string;
  reason: string;
  lines: string[];
}

const REFUSALS: RefusalCase[] = [
  {
    name: "a Vite config that is a function of the mode",
    setup: "vite",
    file: "vite.config.ts",
    text: 'import { defineConfig } from "vite";\n\nexport default defineConfig(({ mode }) => ({\n  base: mode === "production" ? "/app/" : "/",\n}));\n',
    reason: "its config is a function (defineConfig(({ mode }) => …))",
    lines: ['import imagegen from "unplugin-imagegen/vite";', "plugins: [imagegen()], // in the config object the function returns"],
  },
  {
    name: "a config spread from another file",
    setup: "vite",
    file: "vite.config.ts",
    text: 'import base from "./vite.base";\n\nexport default { ...base };\n',
    reason: "its config spreads another one and has no `plugins` of its own",
    lines: ['import imagegen from "unplugin-imagegen/vite";', "plugins: [imagegen()], // in the config object"],
  },
  {
    name: "a re-exported config",
    setup: "rollup",
    file: "rollup.config.mjs",
    text: 'export { default } from "../rollup.shared.mjs";\n',
    reason: 'it re-exports its config from "../rollup.shared.mjs"',
    lines: ['import imagegen from "unplugin-imagegen/rollup";', "plugins: [imagegen()], // in the config object"],
  },
  {
    name: "a webpack config that is a function (webpack-cli's init template)",
    setup: "webpack",
    file: "webpack.config.js",
    text: "const config = { entry: './src/index.js' };\n\nmodule.exports = () => {\n  config.mode = 'production';\n  return config;\n};\n",
    reason: "its config is a function (() => …)",
    lines: ['const imagegen = require("unplugin-imagegen/webpack").default;', "plugins: [imagegen()], // in the config object the function returns"],
  },
  {
    name: "a Next config that is a function of the phase",
    setup: "next",
    file: "next.config.mjs",
    text: 'export default (phase) => ({ distDir: phase === "phase-export" ? "out" : ".next" });\n',
    reason: "its config is a function ((phase) => …)",
    lines: ['import { withImagegen } from "unplugin-imagegen/next";', "return withImagegen(nextConfig); // the config object the function returns, wrapped"],
  },
  {
    name: "a config that does not parse",
    setup: "nuxt",
    file: "nuxt.config.ts",
    text: "export default defineNuxtConfig({\n  modules: [\n",
    reason: "it does not parse (Unexpected token (3:0))",
    lines: ['modules: ["unplugin-imagegen/nuxt"], // in the object given to defineNuxtConfig()'],
  },
];

describe("imagegen init: configs it must not edit", () => {
  it.each(REFUSALS)("leaves $name as it is and prints the lines to add (exit 1)", async ({ setup, file, text, reason, lines }) => {
    const root = await project({ [file]: text });
    const result = await init(root, "--setup", setup);
    expect(result.code).toBe(1);
    expect(await read(root, file)).toBe(text);
    expect(result.stdout).toContain([`Left ${file} as it is: ${reason}. Add these lines to it:`, ...lines.map((line) => `    ${line}`), ""].join("\n"));
    // Everything else is done all the same.
    expect(result.stdout).toContain("create imagegen.config.ts");

    const json = JSON.parse((await init(root, "--setup", setup, "--json")).stdout);
    expect(json).toMatchObject({ ok: false, setup, manual: [{ file, reason, lines, create: false }] });
    expect(await read(root, file)).toBe(text);
  });

  it("tells an esbuild project built from the command line to write a build script, with its entry", async () => {
    const root = await project({ "src/app.ts": "export {};\n" }, { name: "site", scripts: { build: "esbuild src/app.ts --bundle --outdir=dist" }, devDependencies: { esbuild: "^0.28.2" } });
    const result = await init(root);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      [
        "Not wired: there is no build script that imports esbuild (its command line takes no plugins): build with one, `node build.mjs`. Make build.mjs with these lines:",
        '    import * as esbuild from "esbuild";',
        '    import imagegen from "unplugin-imagegen/esbuild";',
        "",
        "    await esbuild.build({",
        '      entryPoints: ["src/app.ts"],',
        "      bundle: true,",
        '      outdir: "dist",',
        "      plugins: [imagegen()],",
        "    });",
      ].join("\n"),
    );
    expect((await snapshot(root))["build.mjs"]).toBeUndefined();
  });
});

describe("imagegen init: which setup", () => {
  it("takes the framework over the bundler it runs on", async () => {
    const root = await project({ "astro.config.mjs": "export default {};\n" }, { name: "site", dependencies: { astro: "^7.3.5", vite: "^8.3.8" } });
    const result = await init(root, "--dry-run");
    expect(result.stderr).toMatch(/^Found Astro \(astro in dependencies, astro\.config\.mjs\)\.\n/);
  });

  it("asks for --setup when two bundlers have a config, and when there is none (exit 2)", async () => {
    const both = await project({ "vite.config.ts": "export default {};\n", "webpack.config.js": "module.exports = {};\n" }, { name: "site", devDependencies: { vite: "^8", webpack: "^5" } });
    const ambiguous = await runCli(["init"], { cwd: both });
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toBe(
      "imagegen: found more than one setup (vite in devDependencies, vite.config.ts; webpack in devDependencies, webpack.config.js): pass --setup vite or --setup webpack (see `imagegen init --help`)\n",
    );
    const chosen = await init(both, "--setup", "webpack");
    expect(chosen.code).toBe(0);
    expect(await read(both, "webpack.config.js")).toContain("plugins: [imagegen()]");
    expect(await read(both, "vite.config.ts")).toBe("export default {};\n");

    const none = await init(await project({}));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^imagegen: found no bundler or framework in package\.json: pass --setup <name> \(vite, astro, sveltekit, nuxt, next, webpack, rspack, rollup, rolldown, esbuild\)/);
    expect((await init(both, "--setup", "parcel")).stderr).toMatch(/^imagegen: --setup must be one of vite, astro, .*\(got "parcel"\)/);
  });

  it("makes vite.config.ts for a Vite starter that has none", async () => {
    const root = await project({ "tsconfig.json": '{ "compilerOptions": { "types": ["vite/client"] } }\n' }, { name: "site", devDependencies: { vite: "^8.3.8" } });
    const result = await init(root);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("create vite.config.ts: imagegen() in plugins");
    expect(await read(root, "vite.config.ts")).toBe('import imagegen from "unplugin-imagegen/vite";\nimport { defineConfig } from "vite";\n\nexport default defineConfig({\n  plugins: [imagegen()],\n});\n');
  });
});

describe("imagegen init: the other files", () => {
  it("--dry-run writes nothing and prints the diff that the run then makes", async () => {
    const files = {
      "index.html": '<div id="app"></div><script type="module" src="/src/main.ts"></script>\n',
      "src/main.ts": "export {};\n",
      "tsconfig.json": '{\n  "compilerOptions": {\n    "types": ["vite/client"],\n    /* Bundler mode */\n    "noEmit": true\n  },\n  "include": ["src"]\n}\n',
      ".gitignore": "node_modules\ndist\n",
    };
    const root = await project(files, { name: "site", private: true, type: "module", devDependencies: { typescript: "~5.9.3", vite: "^8.3.8" } });
    const before = await snapshot(root);
    const dry = await init(root, "--dry-run");
    expect(dry.code).toBe(0);
    expect(await snapshot(root)).toEqual(before);
    expect(dry.stderr).toContain("would create vite.config.ts: imagegen() in plugins");

    const real = await init(root);
    expect(real.code).toBe(0);
    const after = await snapshot(root);
    const patched: Files = { ...before };
    for (const patch of parsePatch(dry.stdout)) {
      const file = patch.newFileName!.replace(/^b\//, "");
      const applied = applyPatch(patched[file] ?? "", patch);
      expect(applied, file).not.toBe(false);
      patched[file] = applied as string;
    }
    expect(patched).toEqual(after);
    expect(Object.keys(after).filter((file) => !(file in before)).sort()).toEqual(["imagegen.config.ts", "src/site.prompts.yaml", "src/site.prompts.yaml.d.ts", "vite.config.ts"]);
    // A TypeScript project gets the sample's declarations, as `imagegen types` writes them, so that `import { hero }` type-checks.
    expect(after["src/site.prompts.yaml.d.ts"]).toContain("export declare const hero: ImagegenImage;");
    expect(after["tsconfig.json"]).toBe('{\n  "compilerOptions": {\n    "types": ["vite/client", "unplugin-imagegen/client"],\n    /* Bundler mode */\n    "noEmit": true\n  },\n  "include": ["src"]\n}\n');
    expect(after["package.json"]).toContain('"typescript": "~5.9.3",\n    "unplugin-imagegen": "^0.1.0",\n    "vite": "^8.3.8"');
    // node_modules/ is ignored: so is the derived cache in it.
    expect(after[".gitignore"]).toBe("node_modules\ndist\n");
    expect(real.stdout).toContain("keep .gitignore: ignores node_modules/.cache/imagegen/ already");
    expect(real.stdout).toContain("Then:\n  npm install\n");
  });

  it("with --remote: remote in the config, .imagegen/ in .gitignore, each line once", async () => {
    const root = await project({ "vite.config.js": "export default {};\n", ".gitignore": "dist" }, { name: "site", devDependencies: { vite: "^8" } });
    const result = await init(root, "--remote", "s3://team-bucket/imagegen/site");
    expect(result.code, result.stderr).toBe(0);
    expect(await read(root, ".gitignore")).toBe(
      "dist\n\n# imagegen: the local copy of the remote store, and the derived cache (commit imagegen.lock.json)\n.imagegen/\nnode_modules/.cache/imagegen/\n",
    );
    expect(await read(root, "imagegen.config.ts")).toContain('\n  remote: "s3://team-bucket/imagegen/site",\n});\n');
    const written = await snapshot(root);
    expect((await init(root, "--remote", "s3://team-bucket/imagegen/site")).stdout).toContain("nothing to change");
    expect(await snapshot(root)).toEqual(written);

    // An existing config without a remote gets one; one with another is left to the user.
    const other = await project({ "vite.config.js": "export default {};\n", "imagegen.config.ts": 'import { defineConfig } from "unplugin-imagegen";\n\nexport default defineConfig({ concurrency: 2 });\n' }, { name: "site", devDependencies: { vite: "^8" } });
    await init(other, "--remote", "s3://team-bucket/a");
    expect(await read(other, "imagegen.config.ts")).toBe('import { defineConfig } from "unplugin-imagegen";\n\nexport default defineConfig({ concurrency: 2, remote: "s3://team-bucket/a" });\n');
    const refused = await init(other, "--remote", "s3://team-bucket/b");
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("Left imagegen.config.ts as it is: it sets another remote; init does not replace it.");

    const bad = await runCli(["init", "--remote", "https://example.invalid/bucket"], { cwd: root });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('imagegen: --remote: "https://example.invalid/bucket" is not an s3://bucket/prefix URL (see `imagegen init --help`)\n');
  });

  it("adds the cache line where git would not ignore it, and warns where the store it must commit is ignored", async () => {
    const root = await project({ "vite.config.js": "export default {};\n", ".gitignore": "# copied from an example\n.imagegen/\n" }, { name: "site", devDependencies: { vite: "^8" } });
    const result = await init(root);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("note: .gitignore ignores .imagegen/: commit it (the originals paid for), or use a remote store (init --remote s3://…)");
    expect(await read(root, ".gitignore")).toBe("# copied from an example\n.imagegen/\n\n# imagegen: the derived cache (commit .imagegen/ and imagegen.lock.json)\nnode_modules/.cache/imagegen/\n");
  });

  it("puts the client types where each setup's TypeScript reads them", async () => {
    // Vite's React starter: the tsconfig.json only references the app's and the node's.
    const solution = await project(
      {
        "vite.config.ts": "export default {};\n",
        "tsconfig.json": '{\n  "files": [],\n  "references": [{ "path": "./tsconfig.app.json" }, { "path": "./tsconfig.node.json" }]\n}\n',
        "tsconfig.app.json": '{\n  "compilerOptions": {\n    "types": [\n      "vite/client"\n    ]\n  },\n  "include": ["src"]\n}\n',
        "tsconfig.node.json": '{ "compilerOptions": { "types": ["node"] }, "include": ["vite.config.ts"] }\n',
      },
      { name: "site", devDependencies: { vite: "^8" } },
    );
    await init(solution);
    expect(await read(solution, "tsconfig.app.json")).toBe('{\n  "compilerOptions": {\n    "types": [\n      "vite/client",\n      "unplugin-imagegen/client"\n    ]\n  },\n  "include": ["src"]\n}\n');
    expect(await read(solution, "tsconfig.node.json")).toBe('{ "compilerOptions": { "types": ["node"] }, "include": ["vite.config.ts"] }\n');

    // SvelteKit's tsconfig lists no types (adding the option would drop the default @types): src/app.d.ts.
    const tsconfig = '{\n\t"extends": "./.svelte-kit/tsconfig.json",\n\t"compilerOptions": { "strict": true }\n\t// Path aliases are handled by Kit\n}\n';
    const appTypes = "// See https://svelte.dev/docs/kit/types#app.d.ts\ndeclare global {\n\tnamespace App {}\n}\n\nexport {};\n";
    const kit = await project({ "vite.config.ts": "export default { plugins: [sveltekit()] };\n", "tsconfig.json": tsconfig, "src/app.d.ts": appTypes, "src/lib/index.ts": "" }, { name: "site", devDependencies: { "@sveltejs/kit": "^3", vite: "^8" } });
    const result = await init(kit);
    expect(result.stdout).toContain('update src/app.d.ts: /// <reference types="unplugin-imagegen/client" />');
    expect(await read(kit, "src/app.d.ts")).toBe(`/// <reference types="unplugin-imagegen/client" />\n${appTypes}`);
    expect(await read(kit, "tsconfig.json")).toBe(tsconfig);
    // Imported from a route the way examples/sveltekit does: Kit 2 calls src/lib `$lib`, Kit 3 `#lib`.
    expect(await read(kit, "src/lib/site.prompts.yaml")).toContain('(here from src/routes/):\n#   import images, { hero } from "../lib/site.prompts.yaml";');

    // Next: a declarations file of its own (next-env.d.ts is Next's to rewrite); Nuxt's module declares them itself.
    const next = await project({ "next.config.ts": "export default {};\n", "tsconfig.json": '{ "compilerOptions": {}, "include": ["next-env.d.ts", "**/*.ts"] }\n', "next-env.d.ts": '/// <reference types="next" />\n' }, { name: "site", dependencies: { next: "^16" } });
    await init(next);
    expect(await read(next, "imagegen-env.d.ts")).toBe('/// <reference types="unplugin-imagegen/client" />\n');
    expect(await read(next, "next-env.d.ts")).toBe('/// <reference types="next" />\n');
    const nuxtTsconfig = '{\n  "files": [],\n  "references": [{ "path": "./.nuxt/tsconfig.app.json" }]\n}\n';
    const nuxt = await project({ "nuxt.config.ts": "export default defineNuxtConfig({});\n", "tsconfig.json": nuxtTsconfig }, { name: "site", dependencies: { nuxt: "^4" } });
    const nuxtRun = await init(nuxt);
    expect(nuxtRun.stdout).not.toMatch(/tsconfig|env\.d\.ts|app\.d\.ts/);
    expect(await read(nuxt, "tsconfig.json")).toBe(nuxtTsconfig);
    expect(await read(nuxt, "site.prompts.yaml")).toContain("hero:");
  });

  it("adds the package beside the setup's own, and names the install command of the lockfile", async () => {
    const root = await project({ "next.config.mjs": "export default {};\n", "app/page.js": "export default () => null;\n", "pnpm-lock.yaml": "lockfileVersion: '9.0'\n" }, { name: "site", dependencies: { next: "^16.4.6", react: "^19.3.1" } });
    const result = await init(root);
    expect(JSON.parse(await read(root, "package.json")).dependencies).toEqual({ next: "^16.4.6", react: "^19.3.1", "unplugin-imagegen": "^0.1.0" });
    expect(result.stdout).toContain("update package.json: unplugin-imagegen ^0.1.0 in dependencies");
    expect(result.stdout).toContain("Then:\n  pnpm install\n");
    expect(result.stdout).toContain('import { hero } from "./site.prompts.yaml" in a page in app/, and show hero.src');
  });

  it("is listed by imagegen --help, and imagegen init --help says what it does", async () => {
    const root = await project({});
    expect((await runCli(["--help"], { cwd: root })).stdout).toMatch(/^\s+init\s+Wire imagegen into this project/m);
    const help = await runCli(["init", "--help"], { cwd: root });
    expect(help.stdout).toContain("--setup <name>");
    expect(help.stdout).toContain("--remote <url>");
    expect(help.stdout).toContain("--dry-run");
  });
});
