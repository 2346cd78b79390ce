import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FAKE_API_KEY } from "../../support/fixture-project.js";

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "build-child.mjs");

export interface ChildBuildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The child's JSON line, when it got to print it. */
  result: { ok: boolean; message?: string; log: string[] } | undefined;
  stdout: string;
  stderr: string;
}

export interface ChildBuild {
  child: ChildProcess;
  done: Promise<ChildBuildResult>;
}

/** Starts `vite build` of `root` in a child process against the API at `apiUrl`, with the fake key. */
export function startChildBuild(root: string, apiUrl: string, outDir = "dist"): ChildBuild {
  const env: NodeJS.ProcessEnv = { ...process.env, ONEMIN_API_KEY: FAKE_API_KEY, ONEMIN_API_URL: apiUrl, CI: "true" };
  delete env.IMAGEGEN_FROZEN;
  const child = spawn(process.execPath, [script, root, outDir], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const done = new Promise<ChildBuildResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const line = stdout.trim().split("\n").at(-1);
      let result: ChildBuildResult["result"];
      try {
        result = line ? JSON.parse(line) : undefined;
      } catch {
        result = undefined;
      }
      resolve({ code, signal, result, stdout, stderr });
    });
  });
  return { child, done };
}
