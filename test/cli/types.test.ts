import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyFixture } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

describe("imagegen types", () => {
  it("declares each manifest's exports, so TypeScript checks imported names", async () => {
    const root = await copyFixture("cli-project");
    const first = await runCli(["types"], { cwd: root });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe("wrote src/site.prompts.yaml.d.ts\n1 manifest: 1 written, 0 unchanged.\n");
    expect(await readFile(path.join(root, "src/site.prompts.yaml.d.ts"), "utf8")).toContain(
      "export declare const teamPhoto: ImagegenImage;",
    );
    expect((await runCli(["types"], { cwd: root })).stdout).toBe("1 manifest: 0 written, 1 unchanged.\n");

    await writeFile(
      path.join(root, "src/uses-types.ts"),
      [
        `import images, { hero, teamPhoto } from "./site.prompts.yaml";`,
        `import { nope } from "./site.prompts.yaml";`,
        `export const width: number = hero.width + teamPhoto.height + images["team-photo"].width;`,
        `export const wrong: string = hero.width;`,
        `export { nope };`,
      ].join("\n"),
    );
    await writeFile(
      path.join(root, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "ESNext", moduleResolution: "bundler", strict: true, noEmit: true, skipLibCheck: false, types: [] },
        files: ["src/uses-types.ts"],
      }),
    );
    const result = spawnSync(process.execPath, [tsc, "-p", root], { encoding: "utf8" });
    const errors = result.stdout.trim().split("\n").map((line) => line.replace(/^.*uses-types\.ts/, ""));
    expect(errors).toEqual([
      expect.stringMatching(/^\(2,10\): error TS\d+: Module '".\/site.prompts.yaml"' has no exported member 'nope'\./),
      expect.stringMatching(/^\(4,14\): error TS2322: Type 'number' is not assignable to type 'string'\.$/),
    ]);
  });

  it("exits 1 naming the file, line and column of a bad manifest", async () => {
    const root = await copyFixture("cli-project");
    await writeFile(path.join(root, "src/bad.prompts.yaml"), "images:\n  hero:\n    prompt: x\n    size: 5K\n");
    const result = await runCli(["types"], { cwd: root });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: src\/bad\.prompts\.yaml:4:11: .*size/m);
    expect(result.stdout).toContain("wrote src/site.prompts.yaml.d.ts");
  });
});
