import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { FAKE_API_KEY } from "./fixture-project.js";

const run = promisify(execFile);
const testDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const repoRoot = path.dirname(testDir);
const PACKAGES = ["packages/core", "packages/unplugin"];
/** The bundlers a user would install beside the plugin, at the versions the workspace tests. */
const BUNDLERS = ["vite", "rollup", "rolldown", "webpack", "@rspack/core", "esbuild"];
const DRIVER = path.join(testDir, "support", "bundle.mjs");
const PNPM = ["-y", "pnpm@10.34.8"];
/** How bundle.mjs marks its result lines among the build's own logging. */
const RESULT_PREFIX = "bundle-result ";

function resultLines(stdout: string): BuildResult[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith(RESULT_PREFIX))
    .map((line) => JSON.parse(line.slice(RESULT_PREFIX.length)) as BuildResult);
}

/** What a packed project installs beside the packed packages, and with which `node` on the PATH. */
export interface PackedProjectKind {
  /** Names the folder: `imagegen-packed-<name>`. */
  name: string;
  dependencies(): Promise<Record<string, string>>;
  /** A folder put first on the PATH of the install (a newer Node for frameworks that need one). */
  binDir?(): Promise<string>;
}

/** Every bundler, at the versions the workspace tests. */
const BUNDLERS_KIND: PackedProjectKind = {
  name: "bundlers",
  async dependencies() {
    return Object.fromEntries(await Promise.all(BUNDLERS.map(async (name) => [name, await workspaceVersion(name)] as const)));
  },
};

/**
 * A project outside the workspace with `unplugin-imagegen` and `@imagegen/core` installed from
 * the tarballs `pnpm pack` makes of them, as a user installs them, and every bundler beside them
 * (or what `kind` says). Made once per change of the packages (keyed by a hash of what is packed)
 * and shared by every test file of a run and by later runs; other processes wait for the one
 * that makes it.
 */
export async function packedProject(kind: PackedProjectKind = BUNDLERS_KIND): Promise<string> {
  const dependencies = await kind.dependencies();
  const key = await contentKey(dependencies);
  const parent = path.join(os.tmpdir(), kind === BUNDLERS_KIND ? "imagegen-packed" : `imagegen-packed-${kind.name}`);
  const dir = path.join(parent, key);
  const ready = path.join(dir, ".ready");
  if (await exists(ready)) return dir;

  await mkdir(parent, { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 5 * 60_000;
  while (!(await mkdir(lock).then(() => true, () => false))) {
    if (await exists(ready)) return dir;
    // A holder killed mid-install leaves its lock behind; nobody installs for this long.
    const age = Date.now() - (await stat(lock).then((s) => s.mtimeMs, () => Date.now()));
    if (age > 5 * 60_000) await rm(lock, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${lock}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  try {
    if (await exists(ready)) return dir;
    await removeOldProjects(parent, key);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await install(dir, dependencies, await kind.binDir?.());
    await writeFile(ready, new Date().toISOString());
    return dir;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function install(dir: string, extra: Record<string, string>, binDir: string | undefined): Promise<void> {
  await Promise.all(PACKAGES.map((pkg) => run("npx", [...PNPM, "pack", "--pack-destination", dir], { cwd: path.join(repoRoot, pkg) })));
  const tarballs = (await readdir(dir)).filter((name) => name.endsWith(".tgz"));
  const tarball = (prefix: string) => `file:./${tarballs.find((name) => name.startsWith(prefix))!}`;
  const dependencies: Record<string, string> = {
    "unplugin-imagegen": tarball("unplugin-imagegen-"),
    "@imagegen/core": tarball("imagegen-core-"),
  };
  Object.assign(dependencies, extra);
  const manifest = {
    name: "imagegen-packed-project",
    private: true,
    type: "module",
    dependencies,
    // unplugin-imagegen depends on @imagegen/core by version; this one is not on the registry yet.
    pnpm: { overrides: { "@imagegen/core": dependencies["@imagegen/core"] } },
  };
  await writeFile(path.join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await cp(DRIVER, path.join(dir, "bundle.mjs"));
  // The workspace's install has put every package in pnpm's store: this links from it.
  await run("npx", [...PNPM, "install", "--prefer-offline", "--no-frozen-lockfile", "--reporter=silent"], {
    cwd: dir,
    env: { ...process.env, npm_config_ignore_workspace: "true", ...(binDir && { PATH: `${binDir}${path.delimiter}${process.env.PATH}` }) },
  });
}

async function workspaceVersion(name: string): Promise<string> {
  const file = path.join(testDir, "node_modules", name, "package.json");
  return (JSON.parse(await readFile(file, "utf8")) as { version: string }).version;
}

/** A hash of everything that goes into the packed project. */
async function contentKey(dependencies: Record<string, string>): Promise<string> {
  const hash = createHash("sha256");
  for (const pkg of PACKAGES) {
    const root = path.join(repoRoot, pkg);
    const files = ["package.json"];
    for (const folder of ["dist", "next-image"]) {
      if (await exists(path.join(root, folder))) files.push(...(await listTree(path.join(root, folder))).map((f) => path.join(folder, f)));
    }
    if (await exists(path.join(root, "client.d.ts"))) files.push("client.d.ts");
    for (const file of files.sort()) hash.update(file).update(await readFile(path.join(root, file)));
  }
  hash.update(await readFile(DRIVER));
  for (const [name, version] of Object.entries(dependencies).sort()) hash.update(`${name}@${version}`);
  return hash.digest("hex").slice(0, 16);
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** Packed projects of older builds, not used for a day. */
async function removeOldProjects(parent: string, keep: string): Promise<void> {
  for (const name of await readdir(parent)) {
    if (name.startsWith(keep)) continue;
    const dir = path.join(parent, name);
    const age = Date.now() - (await stat(dir).then((s) => s.mtimeMs, () => Date.now()));
    if (age > 24 * 60 * 60_000) await rm(dir, { recursive: true, force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

/** A copy of an example or fixture inside the packed project, so that its imports resolve to the packed packages. */
export async function copyIntoPackedProject(packed: string, source: string, name: string): Promise<string> {
  const target = path.join(packed, "projects", `${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  await cp(source, target, {
    recursive: true,
    // An example's own build output, store or installed packages are not part of it.
    filter: (file) => !/[\\/](node_modules|dist|build|\.next|\.nuxt|\.output|\.svelte-kit|\.astro|\.imagegen|imagegen\.lock\.json)$/.test(file.slice(source.length)),
  });
  // A project has a package.json, which makes its folder the project root (findProjectRoot):
  // without one, the packed project above would be every copy's root, with one store for all.
  const manifest = path.join(target, "package.json");
  if (!(await exists(manifest))) await writeFile(manifest, `${JSON.stringify({ name: `imagegen-${name}`, private: true, type: "module" }, null, 2)}\n`);
  return target;
}

export const FIXTURES_DIR = path.join(testDir, "fixtures");
export const EXAMPLES_DIR = path.join(repoRoot, "examples");

export interface BuildResult {
  ok: boolean;
  error?: string;
  ms?: number;
  outDir?: string;
  assets?: string[];
  errors?: string[];
}

/** The environment of a build: the emulator and the fake key, and nothing from the shell. */
export function buildEnv(apiUrl: string): NodeJS.ProcessEnv {
  return { ...process.env, ONEMIN_API_URL: apiUrl, ONEMIN_API_KEY: FAKE_API_KEY, IMAGEGEN_FROZEN: undefined };
}

/** Builds `project` with `bundler` in a child process, as `<bundler>.config.mjs` says. */
export async function bundle(packed: string, bundler: string, project: string, apiUrl: string): Promise<BuildResult & { stderr: string }> {
  const child = spawn(process.execPath, [path.join(packed, "bundle.mjs"), bundler, project], {
    cwd: project,
    env: buildEnv(apiUrl),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  await new Promise((resolve) => child.on("close", resolve));
  const result = resultLines(stdout).at(-1);
  return result ? { ...result, stderr } : { ok: false, error: `no result from the build:\n${stdout}\n${stderr}`, stderr };
}

/** A build that keeps watching: one result per rebuild, until `close()`. */
export function watchBundle(packed: string, bundler: "webpack" | "rspack", project: string, apiUrl: string) {
  const child = spawn(process.execPath, [path.join(packed, "bundle.mjs"), bundler, project, "--watch"], {
    cwd: project,
    env: buildEnv(apiUrl),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const results: BuildResult[] = [];
  const waiters: (() => void)[] = [];
  let buffered = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      results.push(...resultLines(buffered.slice(0, newline)));
      buffered = buffered.slice(newline + 1);
      waiters.splice(0).forEach((wake) => wake());
    }
  });
  let seen = 0;
  return {
    results,
    /**
     * Resolves with the first result after the last one returned that satisfies `accept` (a
     * watcher may rebuild more often than the test changed something).
     */
    async next(accept: (result: BuildResult) => boolean | Promise<boolean> = () => true, timeoutMs = 30_000): Promise<BuildResult> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        while (seen < results.length) {
          const result = results[seen++]!;
          if (await accept(result)) return result;
        }
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`no build came that the test waited for (${results.length} so far); stderr:\n${stderr}`);
        }
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
    async close(): Promise<void> {
      if (child.exitCode !== null) return;
      child.stdin.end("close\n");
      await new Promise((resolve) => child.on("close", resolve));
    },
  };
}
