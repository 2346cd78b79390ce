import { rm } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChildBuild } from "./support/child-build.js";
import { inspectStore } from "./support/consistency.js";
import { importing, reliabilityProject } from "./support/project.js";

// SPEC §4: "a killed build never leaves a corrupt entry". Builds are SIGKILLed at random moments
// (while generating, storing, locking, rendering and caching variants, writing the bundle) and
// the store, the lock and the derived cache are checked after every kill.

const IDS = [
  "gen:a red fox in snow?w=64;256&format=avif;webp",
  "gen:a grey heron?w=128&format=webp;jpeg&placeholder=blur",
  "gen:a lighthouse at dawn?size=2K&w=320&format=webp;jpeg",
  "gen:a night market with lanterns?w=200&format=png&aspect=4:3",
  "gen:a fishing harbour at blue hour?w=96;192&format=webp",
];
const KILLS = 24;
/**
 * Every other kill starts from nothing and is sent the moment the emulator receives the build's
 * n-th generation request (n = 1…5, while earlier images are being stored and rendered): the
 * build is then waiting for that answer (120 ms of latency), so the kill always lands. The
 * others keep the store, start from an empty derived cache and are sent at a random moment of
 * the build (they interrupt rendering and caching variants, or miss it).
 */
const FRESH_EVERY = 2;

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ latencyMs: 120 });
});
afterAll(() => emulator?.close());

async function wipe(root: string, targets = [".imagegen", "imagegen.lock.json", "node_modules", "dist"]) {
  for (const target of targets) await rm(path.join(root, target), { recursive: true, force: true });
}
const CACHE_ONLY = ["node_modules", "dist"];

async function timedBuild(root: string): Promise<number> {
  const started = Date.now();
  const { result } = await startChildBuild(root, emulator.url).done;
  expect(result).toMatchObject({ ok: true });
  return Date.now() - started;
}

describe("a build killed at any moment", () => {
  it(`leaves store, lock and cache consistent after ${KILLS} SIGKILLs, and a rebuild pays only for what was not stored`, { timeout: 120_000 }, async () => {
    const root = await reliabilityProject(importing(...IDS));

    // Uninterrupted builds tell how long a build from the store takes here, so that kills land inside it.
    await timedBuild(root);
    await wipe(root, CACHE_ONLY);
    const storedMs = await timedBuild(root);

    const moments: string[] = [];
    let requestKills = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const fresh = kill % FRESH_EVERY === 0;
      await wipe(root, fresh ? undefined : CACHE_ONLY);
      emulator.reset();
      const build = startChildBuild(root, emulator.url);
      let moment: string;
      let stop: () => void;
      if (fresh) {
        const nth = (requestKills++ % IDS.length) + 1;
        moment = `at request ${nth}`;
        // Same event loop as the emulator: this poll runs before the emulator's 120 ms answer.
        const poll = setInterval(() => {
          if (emulator.requests.length >= nth) build.child.kill("SIGKILL");
        }, 2);
        stop = () => clearInterval(poll);
      } else {
        const delay = Math.round(storedMs * (0.2 + 0.8 * Math.random()));
        moment = `at ${delay} ms`;
        const timer = setTimeout(() => build.child.kill("SIGKILL"), delay);
        stop = () => clearTimeout(timer);
      }
      const { signal } = await build.done;
      stop();
      const state = await inspectStore(root);
      moments.push(`${moment}: ${signal ?? "finished"}, ${state.stored.length} stored, ${emulator.requests.length} requests`);
      expect(state.problems, `after a kill ${moment}`).toEqual([]);
      if (fresh) expect(signal, `a kill ${moment}`).toBe("SIGKILL");
    }

    // The final build reuses every stored original, pays for the rest, and leaves no debris.
    const before = await inspectStore(root);
    emulator.reset();
    const final = await startChildBuild(root, emulator.url).done;
    expect(final.result, final.stderr).toMatchObject({ ok: true });
    const after = await inspectStore(root);
    expect(after.problems).toEqual([]);
    expect(after.stored).toHaveLength(IDS.length);
    expect(emulator.requests).toHaveLength(IDS.length - before.stored.length);
    expect(after.locks).toEqual([]);
    expect(after.leftovers).toEqual([]);
    // At least every kill at a request landed (it is a test of interruption, not of builds).
    expect(moments.filter((m) => m.includes("SIGKILL")).length, moments.join("\n")).toBeGreaterThanOrEqual(KILLS / 2);
  });
});
