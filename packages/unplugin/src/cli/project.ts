import { stat } from "node:fs/promises";
import {
  type Discovery,
  type Logger,
  type RemoteStore,
  type ResolvedOptions,
  ImagegenError,
  discoverSpecs,
  resolveProjectRoot,
  resolveOptions,
} from "@imagegen/core";
import { type Output, UsageError } from "./output.js";

/** For commands that call no provider (check, list, prune, report, types): the engine's log lines never come. */
export const quietLogger: Logger = { info() {}, warn() {} };

/** Flags every command takes (SPEC §8). */
export interface CommonFlags {
  root?: string;
  config?: string;
  concurrency?: number;
  frozen?: boolean;
  json?: boolean;
}

export interface Project {
  options: ResolvedOptions;
  discovery: Discovery;
}

/**
 * Reads the config once, exactly as the plugin does (resolveOptions) with the flags on top, then
 * finds every image. A config that cannot be read is a usage error; a bad import or manifest
 * is not: it is listed in `discovery.errors` and every other image is still found.
 */
export async function openProject(flags: CommonFlags, out: Output, logger: Logger): Promise<Project> {
  const options = await projectOptions(flags, out, logger);
  return { options, discovery: await discoverSpecs(options) };
}

/** The project's resolved options, read as the plugin reads them, with the flags on top; no discovery. */
export async function projectOptions(flags: CommonFlags, out: Output, logger: Logger): Promise<ResolvedOptions> {
  const root = resolveProjectRoot(flags.root);
  const isDir = await stat(root).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new UsageError(`--root ${root} is not a directory`);
  out.setRoot(root);

  let options: ResolvedOptions;
  try {
    options = await resolveOptions({
      root,
      ...(flags.config !== undefined && { configFile: flags.config }),
      ...(flags.concurrency !== undefined && { concurrency: flags.concurrency }),
      ...(flags.frozen && { frozen: true }),
      logger,
    });
  } catch (error) {
    if (error instanceof ImagegenError) throw new UsageError(error.message);
    throw error;
  }
  // An apiKey written in the config shows nowhere, like ONEMIN_API_KEY.
  for (const secret of options.secrets) out.addSecret(secret);
  return options;
}

/** Discovery errors, one per line, on stderr. */
export function reportDiscoveryErrors(project: Project, out: Output): void {
  for (const error of project.discovery.errors) out.note(`error: ${error.message}`);
}

/** The remote store that `push`, `pull` need; a usage error when none is configured. */
export function requireRemote(options: ResolvedOptions, command: string): RemoteStore {
  if (!options.remote) {
    throw new UsageError(`imagegen ${command} needs a remote store: set remote: "s3://bucket/prefix" in imagegen.config.ts, or IMAGEGEN_REMOTE`);
  }
  return options.remote;
}
