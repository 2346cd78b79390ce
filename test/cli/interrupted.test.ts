import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFixture } from "../support/fixture-project.js";
import { runCli, spawnCli } from "../support/run-cli.js";

let emulator: Emulator;
beforeAll(async () => {
  // Slow answers, so that a kill lands while a generation is in flight.
  emulator = await startEmulator({ latencyMs: 400 });
});
afterAll(() => emulator?.close());

/** Starts `imagegen generate` and SIGKILLs it once `ready(stderr)` or after `ms`. */
function generateAndKill(root: string, when: { ready?: (stderr: string) => boolean; ms?: number }): Promise<string> {
  const child = spawnCli(["generate", "--concurrency", "1"], { cwd: root, apiUrl: emulator.url });
  let stderr = "";
  return new Promise((resolve, reject) => {
    const kill = () => child.kill("SIGKILL");
    const timer = when.ms === undefined ? undefined : setTimeout(kill, when.ms);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (when.ready?.(stderr)) kill();
    });
    child.on("error", reject);
    child.on("close", (_code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") reject(new Error(`generate was not killed (it ended by itself): ${stderr}`));
      else resolve(stderr);
    });
  });
}

/** Every committed store entry (metadata present) is whole: its bytes decode and match its sha256. */
async function expectStoreIntact(root: string): Promise<number> {
  const dir = path.join(root, ".imagegen");
  const names = await readdir(dir).catch(() => [] as string[]);
  let entries = 0;
  for (const name of names.filter((n) => /^[0-9a-f]+\.json$/.test(n))) {
    const meta = JSON.parse(await readFile(path.join(dir, name), "utf8"));
    const bytes = await readFile(path.join(dir, meta.file));
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(meta.sha256);
    expect((await sharp(bytes).metadata()).width).toBe(1024);
    entries++;
  }
  return entries;
}

describe("imagegen generate, killed", () => {
  it("leaves nothing corrupt: a rerun finishes the rest and check is clean", async () => {
    const root = await copyFixture("cli-project");

    // Killed right after the first image, with the second one in flight.
    const stderr = await generateAndKill(root, { ready: (text) => text.includes("[1/4] generated") });
    expect(stderr).toContain("[1/4] generated");
    expect(await expectStoreIntact(root)).toBeGreaterThanOrEqual(1);

    const check = await runCli(["check", "--json"], { cwd: root });
    expect(check.code).toBe(1);
    const report = JSON.parse(check.stdout);
    expect(report.stale).toEqual([]);
    expect(report.missing.length).toBeGreaterThanOrEqual(1);

    // Killed again at an arbitrary moment.
    await generateAndKill(root, { ms: 700 });
    await expectStoreIntact(root);

    const before = emulator.requests.length;
    const rerun = await runCli(["generate"], { cwd: root, apiUrl: emulator.url });
    expect(rerun.code, rerun.stderr).toBe(0);
    const stored = emulator.requests.length - before;
    expect(rerun.stdout).toContain(`${4 - stored} cached, ${stored} generated, 0 failed`);

    const clean = await runCli(["check"], { cwd: root });
    expect(clean.code, clean.stdout).toBe(0);
    expect(await expectStoreIntact(root)).toBe(4);
  });
});
