import { stat } from "node:fs/promises";
import { parseRemoteUrl, resolveProjectRoot } from "@imagegen/core";
import { type DetectedSetup, detectSetup } from "./init/detect-setup.js";
import { gitignoreSteps } from "./init/gitignore.js";
import type { InitStep } from "./init/init-step.js";
import { installCommand, packageJsonStep } from "./init/package-json.js";
import { ProjectFolder } from "./init/project-folder.js";
import type { SetupName } from "./init/setups.js";
import { SAMPLE_MANIFEST, imagegenConfigStep, manifestImport, sampleManifestSteps } from "./init/starter-files.js";
import { typescriptTypesSteps } from "./init/typescript-types.js";
import { wireConfig } from "./init/wire-config.js";
import { unifiedDiff, writeSteps } from "./init/write-steps.js";
import { type Output, UsageError } from "./output.js";
import { packageVersion } from "./package-version.js";

export interface InitFlags {
  root?: string;
  json?: boolean;
  /** Print the changes as a diff; write nothing. */
  dryRun?: boolean;
  /** The setup, when detection cannot tell or is wrong. */
  setup?: SetupName;
  /** A remote store (`s3://bucket/prefix`): the workflow where `.imagegen/` is not committed. */
  remote?: string;
}

type Write = Extract<InitStep, { kind: "write" }>;
type Manual = Extract<InitStep, { kind: "manual" }>;

/**
 * `imagegen init`: wires imagegen into the project in one step. Detects the setup, adds the plugin
 * to its config file, writes `imagegen.config.ts` and a sample manifest, the `.gitignore` lines
 * of the workflow, the client types and the package. Every file is read first and written only
 * if it changes, so a second run writes nothing. A config it cannot edit safely is left as it
 * is, with the lines to add printed, and the exit code is 1.
 */
export async function initCommand(flags: InitFlags, out: Output): Promise<number> {
  const root = resolveProjectRoot(flags.root);
  if (!(await stat(root).then((s) => s.isDirectory(), () => false))) throw new UsageError(`--root ${root} is not a directory`);
  out.setRoot(root);
  if (flags.remote !== undefined) {
    const remote = parseRemoteUrl(flags.remote);
    if (typeof remote === "string") throw new UsageError(`--remote: ${remote}`);
  }
  const project = await ProjectFolder.open(root);
  const detected = await detectSetup(project, flags.setup);
  const { setup } = detected;

  const steps: InitStep[] = [
    ...(await wireConfig(project, detected)),
    await imagegenConfigStep(project, flags.remote),
    ...(await sampleManifestSteps(project, setup)),
    ...(await typescriptTypesSteps(project, setup)),
    ...(await gitignoreSteps(project, flags.remote)),
    packageJsonStep(project, setup, packageVersion(), (await project.read("package.json"))!),
  ];
  const writes = steps.filter((step): step is Write => step.kind === "write");
  const manual = steps.filter((step): step is Manual => step.kind === "manual");
  if (!flags.dryRun) await writeSteps(root, writes);
  const install = writes.some((write) => write.file === "package.json") ? installCommand(project) : undefined;
  const diff = flags.dryRun ? unifiedDiff(writes) : undefined;

  if (flags.json) {
    out.json({
      ok: manual.length === 0,
      setup: setup.name,
      found: detected.evidence,
      dryRun: flags.dryRun === true,
      files: steps.flatMap((step) => (step.kind === "note" ? [] : [{ file: step.file, action: actionOf(step), ...(step.kind !== "manual" && { summary: step.summary }) }])),
      manual: manual.map(({ file, reason, lines, create }) => ({ file, reason, lines, create: create === true })),
      notes: steps.flatMap((step) => (step.kind === "note" ? [step.text] : [])),
      install: install ?? null,
      ...(diff !== undefined && { diff }),
    });
    return manual.length > 0 ? 1 : 0;
  }

  // With --dry-run, stdout is the diff alone (`imagegen init --dry-run | git apply` works).
  const say = flags.dryRun ? (line: string) => out.note(line) : (line: string) => out.print(line);
  say(`Found ${setup.title} (${detected.evidence.join(", ")}).`);
  for (const step of steps) {
    if (step.kind === "write") say(`  ${flags.dryRun ? "would " : ""}${step.before === undefined ? "create" : "update"} ${step.file}: ${step.summary}`);
    if (step.kind === "keep") say(`  keep ${step.file}: ${step.summary}`);
    if (step.kind === "note") say(`  note: ${step.text}`);
  }
  for (const step of manual) {
    say("");
    say(step.create ? `Not wired: ${step.reason}. Make ${step.file} with these lines:` : `Left ${step.file} as it is: ${step.reason}. Add these lines to it:`);
    for (const line of step.lines) say(line === "" ? "" : `    ${line}`);
  }
  if (diff !== undefined) out.stdout.write(diff);
  say("");
  if (writes.length === 0 && manual.length === 0) say("imagegen is set up already: nothing to change.");
  else say(nextSteps(detected, install, writes, flags).join("\n"));
  return manual.length > 0 ? 1 : 0;
}

function actionOf(step: Exclude<InitStep, { kind: "note" }>): "create" | "update" | "keep" | "manual" {
  if (step.kind === "write") return step.before === undefined ? "create" : "update";
  return step.kind;
}

function nextSteps({ setup }: DetectedSetup, install: string | undefined, writes: Write[], flags: InitFlags): string[] {
  const sample = writes.find((write) => write.before === undefined && (write.file === SAMPLE_MANIFEST || write.file.endsWith(`/${SAMPLE_MANIFEST}`)));
  const typed = sample && writes.some((write) => write.file === `${sample.file}.d.ts`);
  const page = sample && manifestImport(setup, sample.file);
  return [
    "Then:",
    ...(install ? [`  ${install}`] : []),
    ...(page ? [`  import { hero } from "${page.specifier}" in a page in ${page.from}, and show hero.src, hero.srcset, hero.width…`] : []),
    ...(typed ? ["  after adding or renaming images in a manifest: `npx imagegen types` (their names, typed)"] : []),
    "  the build (or `npx imagegen generate`) makes each image once, with ONEMIN_API_KEY set (without one: placeholders)",
    flags.remote ? "  commit imagegen.lock.json; `npx imagegen push` uploads what the remote lacks" : "  commit .imagegen/ and imagegen.lock.json",
  ];
}
