import type { ChildProcess } from "node:child_process";
import { type CliOptions, spawnCli } from "./run-cli.js";

export interface RunningReview {
  /** `http://127.0.0.1:<port>/`, as `imagegen review` printed it. */
  url: string;
  child: ChildProcess;
  /** What it wrote on stderr so far. */
  stderr(): string;
  /** Ctrl-C: resolves with its exit code once it has stopped. */
  stop(): Promise<number | null>;
}

/** Starts `imagegen review …` and waits for the URL it prints. */
export function startReview(args: string[], options: CliOptions): Promise<RunningReview> {
  const child = spawnCli(["review", ...args], options);
  let stdout = "";
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const url = /Review page: (http:\/\/\S+)/.exec(stdout)?.[1];
      if (url) resolve({ url, child, stderr: () => stderr, stop: () => (child.kill("SIGINT"), exited) });
    });
    void exited.then((code) => reject(new Error(`imagegen review exited (${code}) before printing its URL: ${stderr}`)));
  });
}
