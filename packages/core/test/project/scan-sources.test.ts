import { describe, expect, it } from "vitest";
import { scanGenImports } from "../../src/project/scan-sources.js";

const ids = (text: string, file?: string) => scanGenImports(text, file).map((found) => found.id);
const places = (text: string, file?: string) => scanGenImports(text, file).map(({ id, line, column }) => ({ id, line, column }));

describe("scanGenImports", () => {
  it("finds every import form, with the line and column of the specifier", () => {
    const text = [
      `import a from "gen:default";`,
      `import * as b from 'gen:namespace';`,
      `import c, { src as d } from "gen:mixed?size=2K";`,
      `import "gen:side effect";`,
      `const e = await import("gen:dynamic");`,
      `export { default as f } from "gen:re-export";`,
      `export * as g from "gen:star";`,
      "import h from `gen:backtick`;",
      `import {`,
      `  src,`,
      `} from "gen:multi line";`,
    ].join("\n");
    expect(places(text, "a.ts")).toEqual([
      { id: "gen:default", line: 1, column: 15 },
      { id: "gen:namespace", line: 2, column: 20 },
      { id: "gen:mixed?size=2K", line: 3, column: 29 },
      { id: "gen:side effect", line: 4, column: 8 },
      { id: "gen:dynamic", line: 5, column: 24 },
      { id: "gen:re-export", line: 6, column: 30 },
      { id: "gen:star", line: 7, column: 20 },
      { id: "gen:backtick", line: 8, column: 15 },
      { id: "gen:multi line", line: 11, column: 8 },
    ]);
    // Where each string literal is, quotes included: what Next's loader rewrites.
    expect(scanGenImports(text, "a.ts").map(({ start, end }) => text.slice(start, end))).toEqual([
      `"gen:default"`, `'gen:namespace'`, `"gen:mixed?size=2K"`, `"gen:side effect"`, `"gen:dynamic"`, `"gen:re-export"`, `"gen:star"`, "`gen:backtick`", `"gen:multi line"`,
    ]);
  });

  it("ignores comments, strings, templates with substitutions, type-only imports and other modules", () => {
    const text = [
      `// import a from "gen:line comment";`,
      `/* import b from "gen:block comment"; */`,
      `/**`,
      ` * import c from "gen:doc comment";`,
      ` */`,
      `const s = 'import d from "gen:inside a string"';`,
      "const t = `import e from \"gen:inside a template\"`;",
      "const u = import(`gen:${prompt}`);",
      `const v = "gen:a plain string";`,
      `import type { W } from "gen:type only";`,
      `import x from "../x.js";`,
      `obj.import("gen:a method");`,
      `const y = import.meta.url;`,
      `import real from "gen:real";`,
    ].join("\n");
    expect(ids(text)).toEqual(["gen:real"]);
  });

  it("decodes escapes, and keeps quotes, commas and non-Latin text of the prompt", () => {
    expect(ids(String.raw`import a from "gen:a \"quoted\" fox, 東京\u306e\x41";`)).toEqual(['gen:a "quoted" fox, 東京のA']);
    expect(ids(`import a from 'gen:it\\'s "fine"';`)).toEqual([`gen:it's "fine"`]);
  });

  it("is not thrown off by regular expressions, division, nested templates or JSX text", () => {
    const text = [
      `const r = /"['/]/g.test(x) ? a / b / c : 1;`,
      "const nested = `a ${`b ${c}`} \" d`;",
      `const jsx = <p>Don't stop</p>;`,
      `import a from "gen:after everything";`,
    ].join("\n");
    expect(places(text, "a.tsx")).toEqual([{ id: "gen:after everything", line: 4, column: 15 }]);
  });

  it("reads only the script parts of Vue, Svelte and Astro files", () => {
    const vue = [
      `<template><img src="gen:not an import" alt="Don't"></template>`,
      `<!-- import a from "gen:html comment" -->`,
      `<script setup lang="ts">`,
      `import hero from "gen:vue hero";`,
      `</script>`,
    ].join("\n");
    expect(places(vue, "App.vue")).toEqual([{ id: "gen:vue hero", line: 4, column: 18 }]);

    const svelte = `<script context="module">import a from "gen:svelte module";</script>\n<p>import b from "gen:text"</p>\n<script>import c from "gen:svelte";</script>`;
    expect(ids(svelte, "Card.svelte")).toEqual(["gen:svelte module", "gen:svelte"]);

    const astro = `---\nimport hero from "gen:astro frontmatter";\n---\n<p>import x from "gen:text"</p>`;
    expect(places(astro, "index.astro")).toEqual([{ id: "gen:astro frontmatter", line: 2, column: 18 }]);
  });

  it("reads MDX's ESM paragraphs but not fenced code", () => {
    const mdx = [
      `import hero from "gen:mdx hero"`,
      `export const meta = { title: "x" }`,
      ``,
      `# Writing an import`,
      ``,
      "```js",
      `import example from "gen:an example in a fence"`,
      "```",
      ``,
      `Text that says import a from "gen:prose".`,
      ``,
      `import later from "gen:mdx later"`,
    ].join("\n");
    expect(places(mdx, "post.mdx")).toEqual([
      { id: "gen:mdx hero", line: 1, column: 18 },
      { id: "gen:mdx later", line: 12, column: 19 },
    ]);
  });

  it("reads the inline scripts of HTML pages and of markdown pages (VitePress), not their text", () => {
    const html = [
      `<!doctype html>`,
      `<p>import a from "gen:text of the page"</p>`,
      `<script type="module" src="/main.js"></script>`,
      `<script type="module">import hero from "gen:inline hero";</script>`,
    ].join("\n");
    expect(places(html, "index.html")).toEqual([{ id: "gen:inline hero", line: 4, column: 40 }]);

    const md = [`# Guide`, ``, "```js", `import x from "gen:an example"`, "```", `<script setup>`, `import hero from "gen:vitepress hero"`, `</script>`].join("\n");
    expect(ids(md, "guide.md")).toEqual(["gen:vitepress hero"]);
  });
});
