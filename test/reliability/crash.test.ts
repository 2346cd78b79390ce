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
 * Every third kill starts from nothing (it interrupts generating and storing); the others keep
 * the store and start from an empty derived cache (they interrupt rendering and caching variants).
 */
const FRESH_EVERY = 3;

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

    // Uninterrupted builds tell how long each kind takes here, so that kills land inside them.
    const coldMs = await timedBuild(root);
    await wipe(root, CACHE_ONLY);
    const storedMs = await timedBuild(root);

    const moments: string[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      const fresh = kill % FRESH_EVERY === 0;
      await wipe(root, fresh ? undefined : CACHE_ONLY);
      emulator.reset();
      const build = startChildBuild(root, emulator.url);
      const delay = Math.round((fresh ? coldMs : storedMs) * (0.2 + 0.8 * Math.random()));
      const timer = setTimeout(() => build.child.kill("SIGKILL"), delay);
      const { signal } = await build.done;
      clearTimeout(timer);
      const state = await inspectStore(root);
      moments.push(`${delay} ms: ${signal ?? "finished"}, ${state.stored.length} stored, ${emulator.requests.length} requests`);
      expect(state.problems, `after a kill at ${delay} ms`).toEqual([]);
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
    // Most kills landed before the end of the build (it is a test of interruption, not of builds).
    expect(moments.filter((m) => m.includes("SIGKILL")).length, moments.join("\n")).toBeGreaterThanOrEqual(KILLS / 2);
  });
});
