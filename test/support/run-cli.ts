import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FAKE_API_KEY } from "./fixture-project.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The built bin, as `npx imagegen` runs it. */
export const CLI = path.join(repoRoot, "packages/unplugin/dist/cli.mjs");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  /** The emulator's URL; with it the fake key is set, without it no key is. */
  apiUrl?: string;
  env?: Record<string, string | undefined>;
  /** Options of `node` itself, before the CLI (`--import` a preload). */
  nodeArgs?: string[];
}

/** The environment of a CLI run: only what the test gives, so that a key in the shell never leaks in. */
export function cliEnv(options: CliOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ONEMIN_API_KEY: undefined, ONEMIN_API_URL: undefined, IMAGEGEN_FROZEN: undefined };
  // Nor a remote store, AWS credentials or an AI SDK provider's key of the shell: a test that wants one passes it.
  for (const name of Object.keys(env)) if (name.startsWith("AWS_") || name.startsWith("IMAGEGEN_REMOTE")) env[name] = undefined;
  env.GOOGLE_GENERATIVE_AI_API_KEY = undefined;
  env.OPENAI_API_KEY = undefined;
  if (options.apiUrl) Object.assign(env, { ONEMIN_API_URL: options.apiUrl, ONEMIN_API_KEY: FAKE_API_KEY });
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  for (const name of Object.keys(env)) if (env[name] === undefined) delete env[name];
  return env;
}

/** Starts `imagegen …` as a child process. */
export function spawnCli(args: string[], options: CliOptions): ChildProcess {
  return spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], { cwd: options.cwd, env: cliEnv(options), stdio: ["ignore", "pipe", "pipe"] });
}

/** Every output of every run in this test file, to check that the key never shows. */
export const allOutput: string[] = [];

/** Runs `imagegen …` to completion. */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      allOutput.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
