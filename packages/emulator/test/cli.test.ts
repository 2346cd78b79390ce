import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { featureBody, KEY, postFeature } from "./client.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const bin = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));

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
  // The root `test` script builds first; this keeps a lone run of this file working.
  const tsdown = fileURLToPath(new URL("../../../node_modules/.bin/tsdown", import.meta.url));
  if (!existsSync(bin)) execFileSync(tsdown, { cwd: packageDir });
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
      body: JSON.stringify({ kind: "status", status: 503, retryAfter: "1" }),
    });
    expect(await queued.json()).toEqual({ queued: 1 });
    const bad = await fetch(`${running.url}/__emulator/faults`, { method: "POST", body: JSON.stringify({ kind: "nope" }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/Unknown fault kind "nope"/);

    expect((await postFeature(running.url)).status).toBe(503);
    const { aiRecord } = (await (await postFeature(running.url)).json()) as any;
    await (await fetch(aiRecord.temporaryUrl)).arrayBuffer();

    const recorded = (await (await fetch(`${running.url}/__emulator/requests`)).json()) as any;
    expect(recorded.requests).toHaveLength(2);
    expect(recorded.downloads).toHaveLength(1);
    expect(recorded.requests[0].headers["api-key"]).toBe("[redacted]");
    expect(JSON.stringify(recorded)).not.toContain(KEY);

    expect((await fetch(`${running.url}/__emulator/reset`, { method: "POST" })).status).toBe(204);
    expect(await (await fetch(`${running.url}/__emulator/requests`)).json()).toEqual({ requests: [], downloads: [] });
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
