import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES_DIR, bundle, copyIntoPackedProject, packedProject } from "./support/packed-project.js";

// A TypeScript project that installed unplugin-imagegen (packed, outside the workspace) and lists
// "unplugin-imagegen/client" in its `types`: what type-checks and what does not.

const TSC = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), "node_modules", "typescript", "bin", "tsc");

let packed: string;
let emulator: Emulator;
let project: string;
beforeAll(async () => {
  [packed, emulator] = await Promise.all([packedProject(), startEmulator()]);
  project = await copyIntoPackedProject(packed, path.join(FIXTURES_DIR, "typescript"), "typescript");
}, 180_000);
afterAll(async () => {
  await emulator?.close();
  if (project) await rm(project, { recursive: true, force: true });
});

function typecheck(tsconfig: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, "--noEmit", "-p", tsconfig], { cwd: project }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe("TypeScript with unplugin-imagegen/client", () => {
  it("types gen: imports and a manifest's default export with the client types alone", async () => {
    expect(await typecheck("tsconfig.json")).toEqual({ code: 0, output: "" });
  });

  it("types a manifest's images by name once the plugin wrote its declarations (dts: true), and rejects a misspelt name", async () => {
    // Before a build there are no declarations: the ambient module has no named exports.
    const before = await typecheck("tsconfig.named.json");
    expect(before.code).not.toBe(0);
    expect(before.output).toMatch(/has no exported member '(hero|teamPhoto)'/);

    const result = await bundle(packed, "esbuild", project, emulator.url);
    expect(result.error, result.stderr).toBeUndefined();
    const declarations = await readFile(path.join(project, "src", "site.prompts.yaml.d.ts"), "utf8");
    expect(declarations).toContain("export declare const teamPhoto: ImagegenImage;");

    expect(await typecheck("tsconfig.named.json")).toEqual({ code: 0, output: "" });
    const misspelt = await typecheck("tsconfig.misspelt.json");
    expect(misspelt.code).not.toBe(0);
    expect(misspelt.output).toMatch(/src\/manifest-misspelt\.ts\(1,10\): error TS\d+: .*has no exported member named 'heroo'\. Did you mean 'hero'\?/);
    expect(misspelt.output.trim().split("\n")).toHaveLength(1);
  });
});
