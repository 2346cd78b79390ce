import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { createTwoFilesPatch } from "diff";
import type { InitStep } from "./init-step.js";

type Write = Extract<InitStep, { kind: "write" }>;

/** The writes as one unified diff (`a/…`, `b/…`, `/dev/null` for a new file), for `git apply` or a reader. */
export function unifiedDiff(writes: Write[]): string {
  return writes
    .map((write) =>
      createTwoFilesPatch(write.before === undefined ? "/dev/null" : `a/${write.file}`, `b/${write.file}`, write.before ?? "", write.after, undefined, undefined, {
        context: 3,
      }).replace(/^={3,}\n/, ""),
    )
    .join("");
}

/** Writes each file in place (a config may be a symlink, or have its own mode: both are kept). */
export async function writeSteps(root: string, writes: Write[]): Promise<void> {
  for (const write of writes) {
    const file = path.join(root, ...write.file.split("/"));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, write.after);
  }
}
