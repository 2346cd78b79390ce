import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/project/config.js";
import { PROJECT_FILES_MEMO, ProjectFileVerdicts, findProjectFiles, isProjectFile } from "../../src/project/project-files.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "imagegen-files-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function write(files: Record<string, string>) {
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, file)), { recursive: true });
    await writeFile(join(root, file), text);
  }
}

async function found(inline: Parameters<typeof resolveOptions>[0] = {}) {
  const files = await findProjectFiles(await resolveOptions({ root, configFile: false, ...inline }, {}));
  const relative = (list: string[]) => list.map((file) => file.slice(root.length + 1).split("\\").join("/"));
  return { sources: relative(files.sources), manifests: relative(files.manifests) };
}

/** Dependencies, build output, a store and `.gitignore` files at two depths: what the CLI must not read. */
const IGNORED_TREE = {
  "src/main.ts": "",
  "node_modules/pkg/index.js": "",
  "packages/a/node_modules/dep/index.js": "",
  "dist/main.js": "",
  "build/main.js": "",
  ".next/server/page.js": "",
  ".nuxt/app.js": "",
  ".output/server/index.mjs": "",
  ".svelte-kit/output/client.js": "",
  ".astro/types.ts": "",
  "coverage/lcov.js": "",
  ".git/hooks/pre-commit.js": "",
  "assets-store/keep.js": "",
  // The root's .gitignore: a folder, a pattern and a negation.
  ".gitignore": "generated/\n*.gen.ts\n!keep.gen.ts\ntmp\n",
  "generated/a.ts": "",
  "generated/b.prompts.yaml": "images: {}\n",
  "src/x.gen.ts": "",
  "src/keep.gen.ts": "",
  "tmp/scratch.js": "",
  // A nested .gitignore, relative to its folder, with the last word there.
  "lib/.gitignore": "/local.js\n!also.gen.ts\n",
  "lib/local.js": "",
  "lib/sub/local.js": "",
  "lib/also.gen.ts": "",
  // Nothing comes back from inside an ignored folder, whatever its own .gitignore says.
  "generated/.gitignore": "!a.ts\n",
};

describe("findProjectFiles", () => {
  it("finds every script, component, markdown and HTML file under the root, wherever the framework keeps them", async () => {
    await write({
      "main.js": "",
      "index.html": "",
      "app/page.tsx": "",
      "app/layout.mts": "",
      "pages/index.vue": "",
      "components/Card.svelte": "",
      "src/pages/about.astro": "",
      "lib/images.cjs": "",
      "docs/guide.md": "",
      "docs/post.mdx": "",
      ".vitepress/theme/index.ts": "",
      "styles.css": "",
      "data.json": "",
      "site.prompts.yaml": "images: {}\n",
    });
    expect(await found()).toEqual({
      sources: [
        ".vitepress/theme/index.ts",
        "app/layout.mts",
        "app/page.tsx",
        "components/Card.svelte",
        "docs/guide.md",
        "docs/post.mdx",
        "index.html",
        "lib/images.cjs",
        "main.js",
        "pages/index.vue",
        "src/pages/about.astro",
      ],
      manifests: ["site.prompts.yaml"],
    });
  });

  it("skips dependencies, build output, caches, the store and what .gitignore files exclude, as git does", async () => {
    await write(IGNORED_TREE);
    expect(await found({ store: "assets-store" })).toEqual({
      sources: ["lib/also.gen.ts", "lib/sub/local.js", "src/keep.gen.ts", "src/main.ts"],
      manifests: [],
    });
  });

  it("takes the globs a project gives instead, still without ignored files", async () => {
    await write({ "src/a.ts": "", "app/b.ts": "", "app/c.js": "", ".gitignore": "app/c.*\n", "app/d.ts": "" });
    await write({ "app/.gitignore": "d.ts\n" });
    expect((await found({ sources: ["app/**/*.{ts,js}"] })).sources).toEqual(["app/b.ts"]);
  });
});

describe("isProjectFile and ProjectFileVerdicts (the build's question, one file at a time)", () => {
  // The tree of the .gitignore test above, with a stylesheet and a manifest beside.
  const TREE = { ...IGNORED_TREE, "src/styles.css": "", "site.prompts.yaml": "images: {}\n" };

  it("answers for each file what the walk of the whole project finds", async () => {
    await write(TREE);
    const options = await resolveOptions({ root, configFile: false, store: "assets-store" }, {});
    const walked = await findProjectFiles(options);
    const listed = new Set([...walked.sources, ...walked.manifests].map((file) => file.slice(root.length + 1).split("\\").join("/")));
    expect([...listed].sort()).toEqual(["lib/also.gen.ts", "lib/sub/local.js", "site.prompts.yaml", "src/keep.gen.ts", "src/main.ts"]);
    const verdicts = new ProjectFileVerdicts(options);
    for (const file of Object.keys(TREE)) {
      expect(await isProjectFile(options, file), file).toBe(listed.has(file));
      expect(await verdicts.isProjectFile(file), file).toBe(listed.has(file));
    }
  });

  it("remembers its verdicts between builds, and makes one anew when a glob or a .gitignore on the file's way changes", async () => {
    await write({ "src/main.ts": "", "lib/util.ts": "", ".gitignore": "dist\n" });
    const options = await resolveOptions({ root, configFile: false }, {});
    const firstBuild = new ProjectFileVerdicts(options);
    expect(await firstBuild.isProjectFile("src/main.ts")).toBe(true);
    expect(await firstBuild.isProjectFile("lib/util.ts")).toBe(true);
    expect([...firstBuild.made.keys()]).toEqual(["src/main.ts", "lib/util.ts"]);
    await firstBuild.save();

    const warm = new ProjectFileVerdicts(options);
    expect(await warm.isProjectFile("src/main.ts")).toBe(true);
    expect(warm.made.size).toBe(0);

    // A .gitignore on the way of one file: that file's verdict is made anew, the other's is remembered.
    await write({ "src/.gitignore": "main.ts\n" });
    const afterIgnore = new ProjectFileVerdicts(options);
    expect(await afterIgnore.isProjectFile("src/main.ts")).toBe(false);
    expect(await afterIgnore.isProjectFile("lib/util.ts")).toBe(true);
    expect([...afterIgnore.made.keys()]).toEqual(["src/main.ts"]);
    await afterIgnore.save();

    // The root's .gitignore speaks of every file.
    await write({ ".gitignore": "dist\nlib/\n" });
    expect(await new ProjectFileVerdicts(options).isProjectFile("lib/util.ts")).toBe(false);

    // Other globs: nothing remembered is used.
    const narrower = new ProjectFileVerdicts(await resolveOptions({ root, configFile: false, sources: ["app/**/*.ts"] }, {}));
    expect(await narrower.isProjectFile("src/main.ts")).toBe(false);
    expect(narrower.made.size).toBe(1);
  });

  it("takes a damaged memo for none", async () => {
    await write({ "src/main.ts": "" });
    const options = await resolveOptions({ root, configFile: false }, {});
    await mkdir(options.cacheDir, { recursive: true });
    await writeFile(join(options.cacheDir, PROJECT_FILES_MEMO), "{\"rules\":");
    const verdicts = new ProjectFileVerdicts(options);
    expect(await verdicts.isProjectFile("src/main.ts")).toBe(true);
    await verdicts.save();
    expect(JSON.parse(await readFile(join(options.cacheDir, PROJECT_FILES_MEMO), "utf8")).files["src/main.ts"].read).toBe(true);
  });
});
