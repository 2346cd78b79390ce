import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { featureBody, KEY, postFeature } from "./client.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
/**
 * Built from the current src before the tests, into a folder of its own: a stale `dist` would test
 * old code, and rebuilding `dist` itself would pull it from under test files running beside this one.
 * (Inside the package, so that its dependencies resolve.)
 */
const outDir = fileURLToPath(new URL("../node_modules/.cache/cli-test-build", import.meta.url));
const bin = `${outDir}/cli.mjs`;

/** Starts the built bin and resolves with its URL from the first line it prints. */
function startBin(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`imagegen-emulator exited with ${code}`)));
    createInterface({ input: child.stdout! }).once("line", (line) => {
      const url = /listening on (http:\/\/\S+)$/.exec(line)?.[1];
      if (url === undefined) reject(new Error(`unexpected first line: ${line}`));
      else resolve({ child, url });
    });
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

beforeAll(() => {
  const tsdown = fileURLToPath(new URL("../../../node_modules/.bin/tsdown", import.meta.url));
  execFileSync(tsdown, ["--out-dir", outDir, "--no-dts", "--logLevel", "silent"], { cwd: packageDir });
}, 60_000);

describe("imagegen-emulator", () => {
  let running: { child: ChildProcess; url: string };
  beforeAll(async () => {
    running = await startBin(["--port", "0", "--latency", "10", "--api-key", KEY]);
  });
  afterAll(() => {
    if (running.child.exitCode === null) running.child.kill("SIGKILL");
  });

  it("prints a parseable URL on its first line and serves the API", async () => {
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await postFeature(running.url)).status).toBe(200);
    expect((await postFeature(running.url, featureBody(), { key: "other" })).status).toBe(401);
  });

  it("lets another process inject faults, read recordings and reset", async () => {
    await fetch(`${running.url}/__emulator/reset`, { method: "POST" });
    const queued = await fetch(`${running.url}/__emulator/faults`, {
      method: "POST",
      body: JSON.stringify({ kind: "status", status: 503, retryAfter: "1", statusText: "Slow Down" }),
    });
    expect(await queued.json()).toEqual({ queued: 1 });
    const bad = await fetch(`${running.url}/__emulator/faults`, { method: "POST", body: JSON.stringify({ kind: "nope" }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/Unknown fault kind "nope"/);

    // statusText is one of the latest fault options: the bin runs the current src.
    expect(await postFeature(running.url)).toMatchObject({ status: 503, statusText: "Slow Down" });
    const { aiRecord } = (await (await postFeature(running.url)).json()) as any;
    await (await fetch(aiRecord.temporaryUrl)).arrayBuffer();

    const recorded = (await (await fetch(`${running.url}/__emulator/requests`)).json()) as any;
    expect(recorded.requests).toHaveLength(2);
    expect(recorded.downloads).toHaveLength(1);
    expect(recorded.requests[0].headers["api-key"]).toBe("[redacted]");
    expect(JSON.stringify(recorded)).not.toContain(KEY);

    expect((await fetch(`${running.url}/__emulator/reset`, { method: "POST" })).status).toBe(204);
    expect(await (await fetch(`${running.url}/__emulator/requests`)).json()).toEqual({ requests: [], downloads: [], uploads: [] });
  });

  it("stops on SIGTERM with exit code 0", async () => {
    const exited = exitOf(running.child);
    running.child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("exits 2 with a usage line for a bad flag or port", async () => {
    for (const args of [["--nope"], ["--port", "abc"]]) {
      const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      expect(await exitOf(child)).toBe(2);
      expect(stderr).toMatch(/^imagegen-emulator: .+\nUsage: imagegen-emulator/);
    }
  });
});
