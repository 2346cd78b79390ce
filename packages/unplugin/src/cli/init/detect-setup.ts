import { UsageError } from "../output.js";
import type { ProjectFolder } from "./project-folder.js";
import { SETUP_NAMES, type SetupName } from "./setup-names.js";
import { SETUPS, type Setup } from "./setups.js";

export interface DetectedSetup {
  setup: Setup;
  /** What decided it, as shown: `vite in devDependencies`, `vite.config.ts`, `--setup vite`. */
  evidence: string[];
  /** Its config file, when it has one (esbuild: none; its build script is looked for apart). */
  configFile: string | undefined;
}

const FRAMEWORKS: SetupName[] = ["astro", "sveltekit", "nuxt", "next"];

/**
 * Which setup the project is: a framework by its package (each has a bundler among its
 * dependencies, which must not decide), else the one bundler with a config file, else the one
 * bundler in package.json. Anything else is ambiguous, and `--setup` decides.
 */
export async function detectSetup(project: ProjectFolder, forced: SetupName | undefined): Promise<DetectedSetup> {
  const found = await Promise.all(SETUPS.map((setup) => evidenceFor(project, setup)));
  if (forced) {
    const detected = found.find(({ setup }) => setup.name === forced)!;
    return { ...detected, evidence: [`--setup ${forced}`, ...detected.evidence] };
  }
  const frameworks = found.filter(({ setup, packages }) => FRAMEWORKS.includes(setup.name) && packages.length > 0);
  const bundlers = found.filter(({ setup }) => !FRAMEWORKS.includes(setup.name));
  const withConfig = bundlers.filter(({ setup, configFile }) => configFile !== undefined && setup.name !== "esbuild");
  const withPackage = bundlers.filter(({ packages }) => packages.length > 0);
  for (const candidates of [frameworks, withConfig, withPackage]) {
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length > 1) {
      const names = candidates.map(({ setup }) => setup.name);
      const what = candidates.map(({ evidence }) => evidence.join(", ")).join("; ");
      throw new UsageError(`found more than one setup (${what}): pass --setup ${names.join(" or --setup ")}`);
    }
  }
  throw new UsageError(`found no bundler or framework in package.json: pass --setup <name> (${SETUP_NAMES.join(", ")})`);
}

async function evidenceFor(project: ProjectFolder, setup: Setup) {
  const packages = setup.packages.flatMap((name) => {
    const section = project.sectionOf(name);
    return section ? [`${name} in ${section}`] : [];
  });
  const configFile = await project.first(setup.configFiles);
  const evidence = [...packages, ...(configFile && setup.name !== "esbuild" ? [configFile] : [])];
  return { setup, packages, configFile, evidence };
}
