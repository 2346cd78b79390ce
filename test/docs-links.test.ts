import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fg from "fast-glob";
import { afterAll, describe, expect, it } from "vitest";
import { findBrokenLinks, headingAnchors } from "./support/markdown-links.js";

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

// The pages a user reads, and the READMEs that say what lives in each folder of the packages.
const DOCUMENTS = ["README.md", "SECURITY.md", "docs/*.md", "packages/*/src/**/README.md"];

describe("links of the README and docs/", () => {
  it("every relative link and #anchor resolves to a file and one of its headings", async () => {
    const files = await fg(DOCUMENTS, { cwd: repoRoot, absolute: true, ignore: ["**/node_modules/**"] });
    expect(files.map((file) => path.relative(repoRoot, file))).toEqual(
      expect.arrayContaining(["README.md", "docs/configuration.md", "packages/unplugin/src/README.md"]),
    );
    expect(findBrokenLinks(files, repoRoot)).toEqual([]);
  });

  it("the README links every page of docs/ from its table of guides", async () => {
    const pages = await fg("docs/*.md", { cwd: repoRoot });
    const text = await readFile(path.join(repoRoot, "README.md"), "utf8");
    const guides = text.slice(text.indexOf("## Guides"));
    for (const page of pages) expect(guides, page).toContain(`](${page})`);
  });
});

describe("the link checker", () => {
  let dir: string;
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("reports a missing file and a missing anchor, and ignores code, URLs and good links", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "imagegen-links-"));
    await mkdir(path.join(dir, "docs"));
    await writeFile(
      path.join(dir, "docs", "guide.md"),
      "# Guide\n\n## The `gen:` scheme, explained\n\n## Options\n\n## Options\n",
    );
    await writeFile(
      path.join(dir, "README.md"),
      [
        "# Title",
        "",
        "[ok](docs/guide.md#the-gen-scheme-explained) [dup](docs/guide.md#options-1) [self](#title) [dir](docs)",
        "[web](https://example.invalid/missing.md) [mail](mailto:someone@example.invalid)",
        "",
        "```md",
        "[in a code block](nowhere.md)",
        "```",
        "",
        "`[in a code span](nowhere.md)`",
        "",
        "[gone](docs/missing.md) and [bad anchor](docs/guide.md#no-such-heading)",
      ].join("\n"),
    );
    expect(findBrokenLinks([path.join(dir, "README.md")], dir)).toEqual([
      { where: "README.md:12", href: "docs/missing.md", problem: "docs/missing.md does not exist" },
      { where: "README.md:12", href: "docs/guide.md#no-such-heading", problem: "no heading of docs/guide.md has the anchor #no-such-heading" },
    ]);
  });

  it("slugs headings as GitHub does", () => {
    expect([...headingAnchors("# A `code` title: with (punctuation) & more\n\n## Next.js\n\n## Next.js\n")]).toEqual([
      "a-code-title-with-punctuation--more",
      "nextjs",
      "nextjs-1",
    ]);
  });
});
