import { spawn } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireFileLock, removeStaleLocks, withFileLock } from "../../src/store/file-lock.js";

let dir: string;
let lockPath: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "imagegen-lock-"));
  lockPath = join(dir, "locks", "key.lock");
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** This process's boot and pid namespace, read here on their own rather than from the code under test. */
const BOOT_ID = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
const PID_NAMESPACE = readlinkSync("/proc/self/ns/pid");
const HERE = { hostname: hostname(), bootId: BOOT_ID, pidNamespace: PID_NAMESPACE };

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

describe("acquireFileLock", () => {
  it("writes who holds it, and removes the file on release", async () => {
    const lock = await acquireFileLock(lockPath);
    expect(JSON.parse(await readFile(lockPath, "utf8"))).toMatchObject({
      pid: process.pid,
      hostname: hostname(),
      bootId: BOOT_ID,
      pidNamespace: expect.stringMatching(/^pid:\[\d+\]$/),
      token: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    await lock.release();
    await lock.release();
    expect(await readdir(join(dir, "locks"))).toEqual([]);
  });

  it("makes a second taker wait until the first releases", async () => {
    const order: string[] = [];
    const first = await acquireFileLock(lockPath);
    let waitedFor: unknown;
    const second = withFileLock(lockPath, async () => order.push("second"), { onWait: (holder) => (waitedFor = holder) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    order.push("first");
    await first.release();
    await second;
    expect(order).toEqual(["first", "second"]);
    expect(waitedFor).toMatchObject({ pid: process.pid });
  });

  it("takes over a lock whose holder died on this machine, or that an earlier process with this pid left", async () => {
    await mkdir(join(dir, "locks"));
    const holder = { pid: await deadPid(), ...HERE, createdAt: new Date().toISOString(), token: "aaaaaaaaaaaaaaaa" };
    await writeFile(lockPath, JSON.stringify(holder));
    // Taken at once: never reported as a wait on a live holder.
    const waits: unknown[] = [];
    await (await acquireFileLock(lockPath, { onWait: (h) => waits.push(h) })).release();
    await writeFile(lockPath, JSON.stringify({ ...holder, pid: process.pid }));
    await (await acquireFileLock(lockPath, { onWait: (h) => waits.push(h) })).release();
    expect(waits).toEqual([]);
  });

  it.each([
    ["another pid namespace (a container sharing this host name)", { pidNamespace: "pid:[4026531999]" }],
    ["another boot", { bootId: "00000000-0000-4000-8000-000000000000" }],
    ["an older imagegen that did not name its boot and pid namespace", { bootId: undefined, pidNamespace: undefined }],
  ])("never judges by pid a holder from %s: waits while its heartbeat is fresh", async (_, elsewhere) => {
    await mkdir(join(dir, "locks"));
    const holder = { pid: await deadPid(), ...HERE, ...elsewhere, createdAt: new Date().toISOString(), token: "cccccccccccccccc" };
    await writeFile(lockPath, JSON.stringify(holder));
    const waits: unknown[] = [];
    // The holder's heartbeat, as its own process would beat it.
    const beat = setInterval(() => utimes(lockPath, new Date(), new Date()).catch(() => {}), 50);
    try {
      const taking = acquireFileLock(lockPath, { staleMs: 300, onWait: (h) => waits.push(h), signal: AbortSignal.timeout(1000) });
      await expect(taking).rejects.toThrow();
      expect(waits).toEqual([expect.objectContaining({ pid: holder.pid, token: holder.token })]);
    } finally {
      clearInterval(beat);
    }
    // Once its heartbeat stops, it is taken over after staleMs.
    const lock = await acquireFileLock(lockPath, { staleMs: 300 });
    expect(JSON.parse(await readFile(lockPath, "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  it("waits on a fresh lock of another machine, and takes it over once it is older than staleMs", async () => {
    await mkdir(join(dir, "locks"));
    await writeFile(lockPath, JSON.stringify({ pid: 1, hostname: "elsewhere", createdAt: "", token: "bbbbbbbbbbbbbbbb" }));
    const started = Date.now();
    const lock = await acquireFileLock(lockPath, { staleMs: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(JSON.parse(await readFile(lockPath, "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  it("a holder keeps its lock fresh while it works, so it is never taken over", async () => {
    const lock = await acquireFileLock(lockPath, { staleMs: 600 });
    const old = new Date(Date.now() - 5000);
    await utimes(lockPath, old, old);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const other = acquireFileLock(lockPath, { staleMs: 600, signal: AbortSignal.timeout(800) });
    await expect(other).rejects.toThrow();
    await lock.release();
  });

  it("removeStaleLocks removes the locks of dead holders and keeps live and other machines' fresh ones", async () => {
    const locks = join(dir, "locks");
    await mkdir(locks, { recursive: true });
    const holder = (pid: number, space: Record<string, string>) =>
      `${JSON.stringify({ pid, ...space, createdAt: new Date().toISOString(), token: `t${pid}` })}\n`;
    await writeFile(join(locks, "dead.lock"), holder(await deadPid(), HERE));
    await writeFile(join(locks, "elsewhere.lock"), holder(1, { hostname: "another-machine", bootId: "b", pidNamespace: "p" }));
    const live = await acquireFileLock(join(locks, "live.lock"));
    try {
      expect(await removeStaleLocks(locks)).toBe(1);
      expect((await readdir(locks)).sort()).toEqual(["elsewhere.lock", "live.lock"]);
    } finally {
      await live.release();
    }
    expect(await removeStaleLocks(join(dir, "missing"))).toBe(0);
  });
});
