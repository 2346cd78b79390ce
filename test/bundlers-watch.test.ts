import { readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listFiles } from "./support/fixture-project.js";
import { FIXTURES_DIR, copyIntoPackedProject, packedProject, watchBundle } from "./support/packed-project.js";

// With their cache on (development mode's default), webpack and rspack keep modules in memory
// between watch rebuilds and do not run `load` again for one that did not change: its images must
// still be part of every rebuild's output, also with output.clean.

let packed: string;
let emulator: Emulator;
const projects: string[] = [];

beforeAll(async () => {
  [packed, emulator] = await Promise.all([packedProject(), startEmulator()]);
}, 180_000);
afterAll(async () => {
  await emulator?.close();
  await Promise.all(projects.map((dir) => rm(dir, { recursive: true, force: true })));
});

function promptsSince(count: number): string[] {
  return emulator.requests.slice(count).map((request) => (request.body as { promptObject: { prompt: string } }).promptObject.prompt);
}

async function imagesOnDisk(project: string): Promise<string[]> {
  return (await listFiles(path.join(project, "dist"))).filter((file) => /\.(avif|webp|jpg)$/.test(file)).map((file) => file.split(path.sep).join("/"));
}

describe.each(["webpack", "rspack"] as const)("%s watch mode, from the packed packages", (bundler) => {
  it("emits the new image after a manifest edit, keeps the cached modules' images through output.clean, and pays only for the new prompt", async () => {
    const project = await copyIntoPackedProject(packed, path.join(FIXTURES_DIR, "bundler-site"), `watch-${bundler}`);
    projects.push(project);
    // The fixture's production config, with the cache of development mode (production's is off).
    await rename(path.join(project, `${bundler}.config.mjs`), path.join(project, "production.config.mjs"));
    await writeFile(
      path.join(project, `${bundler}.config.mjs`),
      `import base from "./production.config.mjs";\nexport default { ...base, mode: "development", devtool: false, cache: true };\n`,
    );
    const start = emulator.requests.length;
    const watcher = watchBundle(packed, bundler, project, emulator.url);
    try {
      const first = await watcher.next();
      expect(first.errors).toEqual([]);
      expect(promptsSince(start)).toHaveLength(4);
      const before = await imagesOnDisk(project);
      expect(before).toHaveLength(10);

      // Only the manifest changes: the gen: modules come from webpack's cache, their load does not run.
      const manifest = path.join(project, "src", "gallery.prompts.yaml");
      const edited = emulator.requests.length;
      await writeFile(manifest, (await readFile(manifest, "utf8")).replace("A fishing harbour at blue hour", "A fishing harbour at noon"));
      const second = await watcher.next((result) => result.assets?.some((file) => file.includes("at-noon")) ?? false);
      expect(second.errors).toEqual([]);
      expect(promptsSince(edited)).toEqual(["A fishing harbour at noon"]);

      const after = await imagesOnDisk(project);
      const unchanged = before.filter((file) => !file.includes("a-fishing-harbour-at-blue-hour"));
      expect(unchanged).toHaveLength(8);
      // output.clean removed the old harbour and nothing else; the new one is there in two formats.
      expect(after.filter((file) => !file.includes("a-fishing-harbour-at-noon")).sort()).toEqual(unchanged.sort());
      expect(after.filter((file) => /a-fishing-harbour-at-noon-200\.[0-9a-f]{10}\.(avif|webp)$/.test(file))).toHaveLength(2);
      // The bundler itself counts the cached modules' images as this build's assets.
      for (const file of unchanged) expect(second.assets).toContain(file);

      // A change elsewhere (the page script) rebuilds without a request and without losing an image.
      const main = path.join(project, "src", "main.js");
      const touched = emulator.requests.length;
      await writeFile(main, `${await readFile(main, "utf8")}\nwindow.edited = true;\n`);
      const bundleFile = path.join(project, "dist", "main.js");
      const third = await watcher.next(async () => (await readFile(bundleFile, "utf8")).includes("window.edited"));
      expect(third.errors).toEqual([]);
      expect(promptsSince(touched)).toEqual([]);
      expect((await imagesOnDisk(project)).sort()).toEqual(after.sort());
    } finally {
      await watcher.close();
    }
  });
});
