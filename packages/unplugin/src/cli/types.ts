import { manifestDeclarationsPath, writeManifestDeclarations } from "@imagegen/core";
import { CLIENT_TYPES } from "../module/client-types.js";

import { type Output, count } from "./output.js";
import { type CommonFlags, openProject, quietLogger } from "./project.js";

const MANIFEST_FILE = /\.prompts\.ya?ml$/;

/**
 * `imagegen types`: beside each manifest `x.prompts.yaml`, `x.prompts.yaml.d.ts` declaring its
 * named exports and default export, so that `import { hero } from "./x.prompts.yaml"` is checked
 * name by name. A file is rewritten only when its text changes.
 */
export async function typesCommand(flags: CommonFlags, out: Output): Promise<number> {
  const { discovery } = await openProject(flags, out, quietLogger);
  const written: string[] = [];
  const unchanged: string[] = [];
  for (const manifest of discovery.manifests) {
    const file = out.relative(manifestDeclarationsPath(manifest.file));
    if (await writeManifestDeclarations(manifest, CLIENT_TYPES)) written.push(file);
    else unchanged.push(file);
  }
  const errors = discovery.errors.filter((error) => MANIFEST_FILE.test(error.location?.file ?? "")).map((error) => error.message);

  if (flags.json) {
    out.json({ ok: errors.length === 0, written, unchanged, errors });
  } else {
    for (const file of written) out.print(`wrote ${file}`);
    for (const error of errors) out.note(`error: ${error}`);
    out.print(`${count(discovery.manifests.length, "manifest")}: ${written.length} written, ${unchanged.length} unchanged.`);
  }
  return errors.length > 0 ? 1 : 0;
}
