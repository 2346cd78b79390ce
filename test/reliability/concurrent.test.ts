import { execFile, spawn } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { mkdir, readFile, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { originalKey, parseGenId, resolveOptions, resolveSpec } from "@imagegen/core";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY } from "../support/fixture-project.js";
import { startChildBuild } from "./support/child-build.js";
import { inspectStore } from "./support/consistency.js";
import { importing, reliabilityProject, viteBuild } from "./support/project.js";

const IDS = [
  "gen:a red fox in snow?w=64&format=webp",
  "gen:a grey heron?w=64;128&format=webp;jpeg",
  "gen:a lighthouse at dawn?size=2K&w=96&format=webp",
  "gen:a red fox in snow?w=32&format=png",
];
const MANIFEST = `images:
  harbour:
    prompt: A fishing harbour at blue hour
    w: [64]
  market:
    prompt: A night market with lanterns
    w: [64]
`;
const MAIN = `${importing(...IDS)}import images from "./images.prompts.yaml";\nconsole.log(images);\n`;
/** Where a lock holder on this machine runs: its host, boot and pid namespace, as a lock file names them. */
function processSpace() {
  return {
    hostname: hostname(),
    bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
    pidNamespace: readlinkSync("/proc/self/ns/pid"),
  };
}

const PROMPTS = ["A fishing harbour at blue hour", "A night market with lanterns", "a grey heron", "a lighthouse at dawn", "a red fox in snow"];

let emulator: Emulator;
beforeAll(async () => {
  // Slow answers keep both builds inside their generations at the same time.
  emulator = await startEmulator({ latencyMs: 400 });
});
afterAll(() => emulator?.close());

/** A pid that certainly belongs to no running process: one of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

async function keyOf(root: string, id: string): Promise<string> {
  const options = await resolveOptions({ root, configFile: false }, {});
  return originalKey(resolveSpec(parseGenId(id, "main.js"), { ...options, source: { file: "main.js", id } }).generation);
}

describe("two builds sharing one store", () => {
  it("two processes building the same project at once make exactly one API request per key", async () => {
    const root = await reliabilityProject(MAIN, { "src/images.prompts.yaml": MANIFEST });
    // Answers slow enough that the later of the two processes to start (on a loaded machine, seconds
    // later) still finds the other's generations in flight, and waits for them.
    const slow = await startEmulator({ latencyMs: 4000 });
    let a: Awaited<ReturnType<typeof startChildBuild>["done"]>;
    let b: typeof a;
    try {
      [a, b] = await Promise.all([startChildBuild(root, slow.url, "dist-a").done, startChildBuild(root, slow.url, "dist-b").done]);
    } finally {
      await slow.close();
    }
    expect([a.result, b.result]).toMatchObject([{ ok: true }, { ok: true }]);
    const prompts = slow.requests.map((r) => (r.body as { promptObject: { prompt: string } }).promptObject.prompt).sort();
    expect(prompts).toEqual(PROMPTS);
    // One of them waited for the other at least once; neither paid twice.
    expect([...a.result!.log, ...b.result!.log].some((line) => /^waiting for another imagegen process \(pid \d+ on /.test(line))).toBe(true);

    const state = await inspectStore(root);
    expect(state.problems).toEqual([]);
    expect(state.stored).toHaveLength(5);
    expect(state.locks).toEqual([]);
    const lock = JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8"));
    expect(Object.keys(lock.images).sort()).toEqual(state.stored);
    // Both bundles point at the same images.
    const assets = async (dir: string) => (await import("../support/fixture-project.js")).listFiles(path.join(root, dir));
    expect(await assets("dist-a")).toEqual(await assets("dist-b"));
  });

  it("the lockfile's read-modify-write loses no entry when four processes write it at once", async () => {
    const root = await reliabilityProject();
    const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), "support", "lockfile-writer.mjs");
    const file = path.join(root, "imagegen.lock.json");
    await Promise.all(["a", "b", "c", "d"].map((prefix) => promisify(execFile)(process.execPath, [writer, file, prefix, "25"])));
    const lock = JSON.parse(await readFile(file, "utf8"));
    expect(Object.keys(lock.images)).toHaveLength(100);
    expect((await inspectStore(root)).locks).toEqual([]);
  });

  it("a key lock left by a killed build (its pid is gone) is taken over at once", async () => {
    const root = await reliabilityProject(importing(IDS[0]!));
    const key = await keyOf(root, IDS[0]!);
    await mkdir(path.join(root, ".imagegen", ".locks"), { recursive: true });
    const holder = { pid: await deadPid(), ...processSpace(), createdAt: new Date().toISOString(), token: "0123456789abcdef" };
    await writeFile(path.join(root, ".imagegen", ".locks", `${key}.lock`), JSON.stringify(holder));
    // And the lockfile's own lock, left by the same build.
    await writeFile(path.join(root, ".imagegen.lock.json.lock"), JSON.stringify(holder));
    emulator.reset();
    const result = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url });
    expect(result.error).toBeUndefined();
    // At once: it never waited on the dead holder.
    expect(result.log.filter((line) => line.startsWith("waiting for another imagegen process"))).toEqual([]);
    expect(emulator.requests).toHaveLength(1);
    expect(await inspectStore(root)).toMatchObject({ problems: [], locks: [], stored: [key] });
  });

  it("a key lock from another machine that nobody touched for a minute is taken over", async () => {
    const root = await reliabilityProject(importing(IDS[0]!));
    const key = await keyOf(root, IDS[0]!);
    const lockFile = path.join(root, ".imagegen", ".locks", `${key}.lock`);
    await mkdir(path.dirname(lockFile), { recursive: true });
    const holder = { pid: 1, hostname: "another-build-machine", createdAt: new Date().toISOString(), token: "fedcba9876543210" };
    await writeFile(lockFile, JSON.stringify(holder));
    // Untouched for a minute: more than the 30 s a live holder lets pass between heartbeats.
    const old = new Date(Date.now() - 60_000);
    await utimes(lockFile, old, old);
    emulator.reset();
    const result = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url });
    expect(result.error).toBeUndefined();
    expect(emulator.requests).toHaveLength(1);
    expect((await inspectStore(root)).locks).toEqual([]);
  });

  it("a key lock held by a live process is waited on, and the build goes on once that process is gone", async () => {
    const root = await reliabilityProject(importing(IDS[0]!));
    const key = await keyOf(root, IDS[0]!);
    const lockFile = path.join(root, ".imagegen", ".locks", `${key}.lock`);
    await mkdir(path.dirname(lockFile), { recursive: true });
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
    const holder = { pid: sleeper.pid!, ...processSpace(), createdAt: new Date().toISOString(), token: "00112233aabbccdd" };
    await writeFile(lockFile, JSON.stringify(holder));
    emulator.reset();
    setTimeout(() => sleeper.kill("SIGKILL"), 1500);
    const result = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url });
    expect(result.error).toBeUndefined();
    expect(result.elapsedMs).toBeGreaterThanOrEqual(1400);
    expect(result.log).toContain(`waiting for another imagegen process (pid ${sleeper.pid} on ${hostname()}) that is generating "a red fox in snow"`);
    expect(emulator.requests).toHaveLength(1);
  });
});
