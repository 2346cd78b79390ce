import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY } from "../support/fixture-project.js";
import { importing, reliabilityProject, storeState, viteBuild } from "./support/project.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator?.close());

const MANIFEST = `images:
  harbour:
    prompt: A fishing harbour at blue hour
    w: [64]
`;
const MAIN = `${importing("gen:a red fox?w=64", "gen:a grey heron?w=64")}import images from "./images.prompts.yaml";\nconsole.log(images);\n`;

describe("maxGenerations in a Vite build", () => {
  it("refuses a build that needs more paid generations than allowed before it starts any, and lists them", async () => {
    const root = await reliabilityProject(MAIN, { "src/images.prompts.yaml": MANIFEST });
    emulator.reset();
    const result = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, maxGenerations: 2 });
    expect(emulator.requests).toHaveLength(0);
    expect(result.message).toBe(
      [
        "3 images have no stored original but maxGenerations is 2, so none was generated:",
        '  - "A fishing harbour at blue hour" 1K (src/images.prompts.yaml:2:3 (image "harbour"))',
        '  - "a red fox" 1K (src/main.js:1:20 (import "gen:a red fox?w=64"))',
        '  - "a grey heron" 1K (src/main.js:2:20 (import "gen:a grey heron?w=64"))',
        "Raise maxGenerations (in imagegen.config.ts or the plugin options) to allow them.",
      ].join("\n"),
    );
    expect(await storeState(root)).toEqual({ store: [], lockfile: false });
  });

  it("counts only what is not stored yet: a build within the limit runs, and the next one needs none", async () => {
    const root = await reliabilityProject(MAIN, { "src/images.prompts.yaml": MANIFEST });
    emulator.reset();
    expect((await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, maxGenerations: 3 })).error).toBeUndefined();
    expect(emulator.requests).toHaveLength(3);

    // One new prompt: allowed with maxGenerations 1, although the project has four images.
    const { writeFile } = await import("node:fs/promises");
    await writeFile(`${root}/src/main.js`, `${MAIN}import owl from "gen:a snowy owl?w=64";\nconsole.log(owl);\n`);
    emulator.reset();
    expect((await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, maxGenerations: 1 })).error).toBeUndefined();
    expect(emulator.requests).toHaveLength(1);

    emulator.reset();
    expect((await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, maxGenerations: 0 })).error).toBeUndefined();
    expect(emulator.requests).toHaveLength(0);
  });

  it("maxGenerations 0 refuses any generation; without a key nothing is paid, so nothing is refused", async () => {
    const root = await reliabilityProject(importing("gen:a red fox?w=64"));
    emulator.reset();
    const refused = await viteBuild(root, { apiKey: FAKE_API_KEY, apiUrl: emulator.url, maxGenerations: 0 });
    expect(refused.message).toMatch(/^1 image has no stored original but maxGenerations is 0, so none was generated:\n {2}- "a red fox" 1K \(src\/main\.js:1:20/);
    expect(emulator.requests).toHaveLength(0);

    const placeholders = await viteBuild(root, { maxGenerations: 0, strict: false });
    expect(placeholders.error).toBeUndefined();
  });
});
