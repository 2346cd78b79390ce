import ignore from "ignore";
import type { InitStep } from "./init-step.js";
import type { ProjectFolder } from "./project-folder.js";

const CACHE = "node_modules/.cache/imagegen/";
const STORE = ".imagegen/";
const LOCK = "imagegen.lock.json";

/**
 * The lines the workflow needs in `.gitignore` (README: "The store and the lock: what to commit"),
 * each only if git does not ignore that path already (read as git reads it, with `ignore`):
 * the derived cache always (most projects ignore node_modules/ already); with a remote store,
 * `.imagegen/` too, a local copy of the remote. The lock is always committed, and so is the store
 * without a remote: a `.gitignore` that ignores them gets a warning, not an edit.
 */
export async function gitignoreSteps(project: ProjectFolder, remote: string | undefined): Promise<InitStep[]> {
  const before = await project.read(".gitignore");
  const ignored = ignore().add(before ?? "");
  const wanted = remote ? [STORE, CACHE] : [CACHE];
  const missing = wanted.filter((line) => !ignored.ignores(line));
  const steps: InitStep[] = [];
  const committed = remote ? [LOCK] : [STORE, LOCK];
  for (const path of committed) {
    if (ignored.ignores(path)) {
      const why = path === LOCK ? "commit it: it pins every image in use" : "commit it (the originals paid for), or use a remote store (init --remote s3://…)";
      steps.push({ kind: "note", text: `.gitignore ignores ${path}: ${why}` });
    }
  }
  if (missing.length === 0) {
    steps.push({ kind: "keep", file: ".gitignore", summary: `ignores ${wanted.join(" and ")} already` });
    return steps;
  }
  const eol = before?.includes("\r\n") ? "\r\n" : "\n";
  const comment = remote
    ? "# imagegen: the local copy of the remote store, and the derived cache (commit imagegen.lock.json)"
    : "# imagegen: the derived cache (commit .imagegen/ and imagegen.lock.json)";
  const lead = before === undefined || before === "" ? "" : before.endsWith("\n") ? eol : `${eol}${eol}`;
  const after = `${before ?? ""}${lead}${[comment, ...missing].join(eol)}${eol}`;
  steps.push({ kind: "write", file: ".gitignore", before, after, summary: `+ ${missing.join(", ")}` });
  return steps;
}
