import path from "node:path";
import { DEFAULT_MANIFESTS, findProjectFiles, manifestDeclarations, manifestDeclarationsPath, parseManifest } from "@imagegen/core";
import { CLIENT_TYPES } from "../../module/client-types.js";
import { openConfigObject } from "./config-edit.js";
import { propertyNamed } from "./config-object.js";
import type { InitStep } from "./init-step.js";
import type { ProjectFolder } from "./project-folder.js";
import type { Setup } from "./setups.js";

export const CONFIG_FILE = "imagegen.config.ts";
export const SAMPLE_MANIFEST = "site.prompts.yaml";

/** `imagegen.config.ts` with the essentials in comments; with a remote store, its `remote`. */
export function imagegenConfigText(remote: string | undefined): string {
  return `import { defineConfig } from "unplugin-imagegen";

// Read by the build and by the \`imagegen\` command alike. The API key comes from ONEMIN_API_KEY;
// without one, images are placeholders of the right size and nothing is stored.
export default defineConfig({
  // What every image gets unless it says otherwise: the original's size (1K, 2K or 4K) and the
  // formats made of it (the last one is the fallback \`src\`).
  // defaults: { size: "1K", format: ["avif", "webp"] },
  // Presets an image picks with \`style: watercolor\` (or \`?style=watercolor\`), added to its prompt.
  // styles: { watercolor: "loose watercolor on textured paper, soft edges, muted palette" },
  // The most paid generations one run may start.
  // maxGenerations: 20,
  // Originals in a bucket the team and CI share, instead of .imagegen/ in git.
  ${remote ? `remote: ${JSON.stringify(remote)},` : `// remote: "s3://my-bucket/imagegen/my-site",`}
});
`;
}

/**
 * The imagegen config: written unless one exists (any name c12 reads: `imagegen.config.*`, or
 * `.config/imagegen.*`); with `--remote`, its `remote` is set in the existing one if it has none.
 */
export async function imagegenConfigStep(project: ProjectFolder, remote: string | undefined): Promise<InitStep> {
  const existing = await existingConfig(project);
  if (!existing) return { kind: "write", file: CONFIG_FILE, before: undefined, after: imagegenConfigText(remote), summary: remote ? `remote: ${remote}` : "the essentials, in comments" };
  if (!remote) return { kind: "keep", file: existing, summary: "exists" };

  const code = (await project.read(existing))!;
  const lines = [`remote: ${JSON.stringify(remote)}, // in the object given to defineConfig()`];
  const config = openConfigObject(code);
  if ("refused" in config) return { kind: "manual", file: existing, reason: config.refused, lines };
  const current = propertyNamed(config.object, "remote");
  if (current) {
    const same = current.value.type === "StringLiteral" && current.value.value === remote;
    if (same) return { kind: "keep", file: existing, summary: `remote: ${remote} already` };
    return { kind: "manual", file: existing, reason: "it sets another remote; init does not replace it", lines };
  }
  config.module.addProperty(config.object, "remote", config.module.string(remote));
  return { kind: "write", file: existing, before: code, after: config.module.toString(), summary: `remote: ${remote}` };
}

async function existingConfig(project: ProjectFolder): Promise<string | undefined> {
  const atRoot = (await project.list("")).filter((name) => /^imagegen\.config\.[cm]?[jt]s$/.test(name)).sort();
  if (atRoot.length > 0) return atRoot.find((name) => name === CONFIG_FILE) ?? atRoot[0];
  const inDotConfig = (await project.list(".config")).find((name) => /^imagegen(\.config)?\.[cm]?[jt]s$/.test(name));
  return inDotConfig && `.config/${inDotConfig}`;
}

/**
 * A sample manifest, where the setup's sources live: written unless the project has a manifest.
 * In a TypeScript project its declarations beside it too (what `imagegen types` writes), so that
 * `import { hero } from "./site.prompts.yaml"` type-checks by name.
 */
export async function sampleManifestSteps(project: ProjectFolder, setup: Setup): Promise<InitStep[]> {
  const root = project.root;
  const { manifests } = await findProjectFiles({
    root,
    sources: [],
    manifests: DEFAULT_MANIFESTS,
    storeDir: path.join(root, ".imagegen"),
    cacheDir: path.join(root, "node_modules", ".cache", "imagegen"),
  });
  if (manifests.length > 0) {
    const first = path.relative(root, manifests[0]!).split(path.sep).join("/");
    return [{ kind: "keep", file: first, summary: "a manifest exists" }];
  }
  const dir = (await project.first(setup.sourceDirs)) ?? "";
  const file = dir ? `${dir}/${SAMPLE_MANIFEST}` : SAMPLE_MANIFEST;
  const { specifier, from } = manifestImport(setup, file);
  const text = sampleManifestText(specifier, from);
  const steps: InitStep[] = [{ kind: "write", file, before: undefined, after: text, summary: "a sample manifest: one image, hero" }];
  if (await project.isTypeScript()) {
    const declarations = manifestDeclarations(parseManifest(text, project.absolute(file)), CLIENT_TYPES);
    steps.push({ kind: "write", file: manifestDeclarationsPath(file), before: undefined, after: declarations, summary: "its names, typed (`npx imagegen types` rewrites it)" });
  }
  return steps;
}

/** How a page imports the sample manifest `file`: from the setup's pages (`../site.prompts.yaml`), else from beside it. */
export function manifestImport(setup: Setup, file: string): { specifier: string; from: string } {
  const dir = path.posix.dirname(file);
  const from = setup.pagesDir ?? dir;
  const relative = path.posix.relative(from, file);
  return { specifier: relative.startsWith(".") ? relative : `./${relative}`, from: from === "." ? "the root folder" : `${from}/` };
}

function sampleManifestText(specifier: string, from: string): string {
  return `# Images of this site: each is generated once (by the build, or \`npx imagegen generate\`), kept in
# .imagegen/ and pinned by imagegen.lock.json. Import them where they are used (here from ${from}):
#   import images, { hero } from "${specifier}";
#   hero.src, hero.srcset, hero.width, hero.height, hero.alt, hero.sources.avif
defaults:
  w: [480, 960]
  format: [avif, webp]
images:
  hero:
    prompt: A lighthouse on a rocky coast at dawn, golden light, calm sea, long exposure
    alt: A lighthouse at dawn
`;
}
