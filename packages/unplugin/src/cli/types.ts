import { readFile } from "node:fs/promises";
import { manifestDeclarations, manifestDeclarationsPath, writeFileAtomic } from "@imagegen/core";
import { quietLogger } from "./check.js";
import { type Output, count } from "./output.js";
import { type CommonFlags, openProject } from "./project.js";

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
    const file = manifestDeclarationsPath(manifest.file);
    const text = manifestDeclarations(manifest);
    const before = await readFile(file, "utf8").catch(() => undefined);
    if (before === text) {
      unchanged.push(out.relative(file));
      continue;
    }
    await writeFileAtomic(file, text);
    written.push(out.relative(file));
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
