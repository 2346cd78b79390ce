import { copyFile, readdir, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { FAKE_API_KEY } from "./support/fixture-project.js";
import { importing, reliabilityProject, viteBuild } from "./reliability/support/project.js";
import { runCli } from "./support/run-cli.js";

// SPEC §4 and §8: the derived cache is bounded (cacheMaxBytes); a build evicts the least recently
// used renditions of other builds, `imagegen cache prune` trims it, and the order of `format` is
// not part of a rendition's identity.

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: FAKE_API_KEY });
});
afterAll(() => emulator?.close());

const cacheDir = (root: string) => path.join(root, "node_modules", ".cache", "imagegen");
/** Complete renditions in the cache, by key. */
async function renditions(root: string): Promise<string[]> {
  return (await readdir(cacheDir(root))).filter((name) => /^[0-9a-f]{32}\.json$/.test(name)).map((name) => name.slice(0, 32)).sort();
}
/** A rendition of an earlier build, unused for a day: the files of `key` copied under another key. */
async function plantOldRendition(root: string, key: string, as: string): Promise<void> {
  const dir = cacheDir(root);
  const day = new Date(Date.now() - 86_400_000);
  for (const name of (await readdir(dir)).filter((n) => n.startsWith(`${key}.`))) {
    const copy = path.join(dir, name.replace(key, as));
    await copyFile(path.join(dir, name), copy);
    await utimes(copy, day, day);
  }
}

describe("the derived cache's size cap", () => {
  it("format in another order hits the same entry; a build evicts old renditions past cacheMaxBytes; cache prune trims", async () => {
    const root = await reliabilityProject(importing("gen:a grey heron?w=64;96&format=webp;jpeg"));
    const options = { apiKey: FAKE_API_KEY, apiUrl: emulator.url };
    const first = await viteBuild(root, options);
    expect(first.error).toBeUndefined();
    const [key] = await renditions(root);
    expect(await renditions(root)).toHaveLength(1);

    // The same image with its formats the other way round: the same rendition, nothing rendered.
    await writeFile(path.join(root, "src", "main.js"), importing("gen:a grey heron?w=64;96&format=jpeg;webp"));
    const reordered = await viteBuild(root, options);
    expect(reordered.error).toBeUndefined();
    expect(await renditions(root)).toEqual([key]);
    const assets = (build: typeof first) =>
      build.output!.output.filter((file) => file.type === "asset" && /\.(webp|jpe?g)$/.test(file.fileName)).map((file) => file.fileName).sort();
    expect(assets(reordered)).toEqual(assets(first));

    // Two renditions of earlier builds, unused for a day; a cap that holds only about one rendition.
    await plantOldRendition(root, key!, "a".repeat(32));
    await plantOldRendition(root, key!, "b".repeat(32));
    expect(await renditions(root)).toHaveLength(3);
    // A build that writes (a new width) trims: the old ones go, what it used stays.
    await writeFile(path.join(root, "src", "main.js"), importing("gen:a grey heron?w=64;96&format=jpeg;webp", "gen:a grey heron?w=48&format=webp"));
    const capped = await viteBuild(root, { ...options, cacheMaxBytes: 1 });
    expect(capped.error).toBeUndefined();
    const kept = await renditions(root);
    expect(kept).toHaveLength(2);
    expect(kept).toContain(key);

    // `imagegen cache prune` trims to the config's cap, whatever the last build used.
    await writeFile(path.join(root, "imagegen.config.mjs"), "export default { cacheMaxBytes: 1 };\n");
    const pruned = await runCli(["cache", "prune", "--json"], { cwd: root });
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout)).toMatchObject({ ok: true, removed: 2, totalBytes: 0, maxBytes: 1 });
    expect(await renditions(root)).toEqual([]);
    const usage = await runCli(["cache", "clear"], { cwd: root });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^imagegen: unknown cache action "clear"; actions: prune/);
  });
});
