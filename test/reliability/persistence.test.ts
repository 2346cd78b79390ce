import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FAKE_API_KEY } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";
import { importing, reliabilityProject, storeState, viteBuild } from "./support/project.js";

// Work done against an emulator must never look paid (issue 23): what an apiUrl other than
// 1min.ai's makes is throwaway unless the project asks to keep it. The rest of the suite asks
// (IMAGEGEN_PERSISTENT=1 in vitest.config.ts); these tests take that away.

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: FAKE_API_KEY });
});
afterAll(async () => {
  await emulator?.close();
});

describe("originals made against another API than 1min.ai's", () => {
  it("are not kept by a build unless asked, with a warning that says how", async () => {
    const root = await reliabilityProject(importing("gen:a tern in flight?w=64&format=webp"));
    vi.stubEnv("IMAGEGEN_PERSISTENT", undefined);
    try {
      const built = await viteBuild(root, { root, apiKey: FAKE_API_KEY, apiUrl: emulator.url, strict: false });
      expect(built.message).toBeUndefined();
      expect(built.log.filter((line) => line.includes("is not the 1min.ai API"))).toEqual([
        expect.stringContaining(`${new URL(emulator.url).origin} is not the 1min.ai API: what it makes is not kept in the store or the lock`),
      ]);
      expect(built.log.join("\n")).toContain("persistent: true (or IMAGEGEN_PERSISTENT=1)");
      expect(await storeState(root)).toEqual({ store: [], lockfile: false });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("are refused by imagegen generate unless asked; kept when asked, each naming the API that made it", async () => {
    const root = await reliabilityProject(importing("gen:a tern in flight?w=64&format=webp"));
    const refused = await runCli(["generate"], { cwd: root, apiUrl: emulator.url, env: { IMAGEGEN_PERSISTENT: undefined } });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`${new URL(emulator.url).origin} is not the 1min.ai API, whose images are not kept: nothing was generated (set persistent: true or IMAGEGEN_PERSISTENT=1 to keep them).`);

    const kept = await runCli(["generate"], { cwd: root, apiUrl: emulator.url, env: { IMAGEGEN_PERSISTENT: "1" } });
    expect(kept.code, kept.stderr).toBe(0);
    const meta = (await readdir(path.join(root, ".imagegen"))).find((name) => name.endsWith(".json"))!;
    expect(JSON.parse(await readFile(path.join(root, ".imagegen", meta), "utf8"))).toMatchObject({ origin: new URL(emulator.url).origin });
  });
});
