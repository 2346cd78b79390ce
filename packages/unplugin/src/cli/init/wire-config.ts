import { addNuxtModule } from "./add-nuxt-module.js";
import { addPlugin } from "./add-plugin.js";
import type { ConfigEdit } from "./config-edit.js";
import { configLines, esbuildScriptLines, isCommonJs, newConfigFile } from "./config-lines.js";
import type { DetectedSetup } from "./detect-setup.js";
import { addPluginToEsbuildScript, findEsbuildScripts } from "./esbuild-script.js";
import type { InitStep } from "./init-step.js";
import type { ProjectFolder } from "./project-folder.js";
import type { Setup } from "./setups.js";
import { wrapNextConfig } from "./wrap-next-config.js";

/**
 * The plugin in the setup's config file: edited where it can be safely, made where a setup may
 * have none (Vite's starters have none), else the lines to add by hand.
 */
export async function wireConfig(project: ProjectFolder, detected: DetectedSetup): Promise<InitStep[]> {
  const { setup } = detected;
  if (setup.name === "esbuild") return wireEsbuild(project, setup);
  const file = detected.configFile;
  if (file === undefined) {
    const created = newConfigFile(setup, await project.isTypeScript());
    if (created) return [{ kind: "write", file: created.file, before: undefined, after: created.text, summary: wiredSummary(setup) }];
    const expected = setup.configFiles.find((name) => name.endsWith(".js"))!.replace(/\.js$/, ".*");
    return [{ kind: "manual", file: expected, create: true, reason: `there is no ${expected}`, lines: configLines(setup) }];
  }
  const code = (await project.read(file))!;
  return [stepFor(file, code, editConfig(setup, code), setup)];
}

function editConfig(setup: Setup, code: string): ConfigEdit {
  const wiring = setup.wiring;
  switch (wiring.kind) {
    case "plugin":
      return addPlugin(code, wiring);
    case "nuxt-module":
      return addNuxtModule(code);
    case "next-wrap":
      return wrapNextConfig(code);
  }
}

async function wireEsbuild(project: ProjectFolder, setup: Setup): Promise<InitStep[]> {
  const scripts = await findEsbuildScripts(project, setup.configFiles);
  if (scripts.length === 0) {
    const reason = "there is no build script that imports esbuild (its command line takes no plugins): build with one, `node build.mjs`";
    return [{ kind: "manual", file: "build.mjs", create: true, reason, lines: esbuildScriptLines(await esbuildEntry(project)) }];
  }
  const wiring = setup.wiring as Extract<Setup["wiring"], { kind: "plugin" }>;
  return Promise.all(
    scripts.map(async (file) => {
      const code = (await project.read(file))!;
      return stepFor(file, code, addPluginToEsbuildScript(code, wiring), setup);
    }),
  );
}

/** The entry an esbuild command line in package.json builds, else the usual one that exists. */
async function esbuildEntry(project: ProjectFolder): Promise<string> {
  for (const command of Object.values(project.packageJson.scripts ?? {})) {
    const entry = /\besbuild\s+(?:--?[\w-]+(?:=\S+)?\s+)*([\w./-]+\.[cm]?[jt]sx?)\b/.exec(command)?.[1];
    if (entry) return entry.replace(/^\.\//, "");
  }
  return (await project.first(["src/index.ts", "src/main.ts", "src/index.tsx", "src/index.js", "src/main.js", "index.js"])) ?? "src/index.js";
}

function stepFor(file: string, code: string, edit: ConfigEdit, setup: Setup): InitStep {
  switch (edit.kind) {
    case "edited":
      return { kind: "write", file, before: code, after: edit.text, summary: edit.summary };
    case "wired":
      return { kind: "keep", file, summary: "imports unplugin-imagegen already" };
    case "refused":
      return { kind: "manual", file, reason: edit.reason, lines: configLines(setup, { cjs: isCommonJs(file, code), fn: edit.reason.includes("a function") }) };
  }
}

function wiredSummary(setup: Setup): string {
  const wiring = setup.wiring;
  if (wiring.kind === "plugin") return `imagegen() in ${wiring.key}`;
  return wiring.kind === "nuxt-module" ? "the module in modules" : "the export wrapped in withImagegen()";
}
