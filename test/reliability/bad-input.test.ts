import { readFile, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import path from "node:path";
import imagegen from "unplugin-imagegen/vite";
import { type Logger as ViteLogger, type ViteDevServer, createServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureLogger } from "../support/fixture-project.js";
import { importing, reliabilityProject, viteBuild } from "./support/project.js";

// A corpus of user mistakes, each through a real Vite build with its exact message (the import,
// or the manifest's file:line:col), and through one dev server that must outlive them all.

const LONG_PROMPT = "a lighthouse ".repeat(8000); // ~100 kB
const WIDTHS = 'w must be integers from 1 to 8192 separated by ";"';

/** [id, what is wrong]; the message is `Invalid gen: import "<id>" in <file>: <what is wrong>`. */
const GEN_CASES: [string, string][] = [
  ["gen:", 'prompt must be non-empty text (got "")'],
  ["gen:   ?size=2K", 'prompt must be non-empty text (got "   ")'],
  ["gen:?size=2K", 'prompt must be non-empty text (got "")'],
  ["gen:a fox?colour=red", 'unknown parameter "colour"; allowed: size, temperature, topP, model, variant, style, w, format, quality, aspect, fit, placeholder, alt, edit, ref'],
  ["gen:a fox?Size=2K", 'unknown parameter "Size"; allowed: size, temperature, topP, model, variant, style, w, format, quality, aspect, fit, placeholder, alt, edit, ref'],
  ["gen:a fox?size=8K", 'size must be one of 1K, 2K, 4K (got "8K")'],
  ["gen:a fox?size=2k", 'size must be one of 1K, 2K, 4K (got "2k")'],
  ["gen:a fox?temperature=3", 'temperature must be a number from 0 to 2 (got "3")'],
  ["gen:a fox?temperature=NaN", 'temperature must be a number from 0 to 2 (got "NaN")'],
  ["gen:a fox?temperature=Infinity", 'temperature must be a number from 0 to 2 (got "Infinity")'],
  ["gen:a fox?topP=-1", 'topP must be a number from 0 to 1 (got "-1")'],
  ["gen:a fox?topP=0x1", 'topP must be a number from 0 to 1 (got "0x1")'],
  ["gen:a fox?w=abc", `${WIDTHS} (got "abc")`],
  ["gen:a fox?w=0", `${WIDTHS} (got "0")`],
  ["gen:a fox?w=100000", `${WIDTHS} (got "100000")`],
  ["gen:a fox?w=640;", `${WIDTHS} (got "640;")`],
  ["gen:a fox?format=gif", 'format must be avif, webp, jpeg, png separated by ";" (got "gif")'],
  ["gen:a fox?quality=0", 'quality must be an integer from 1 to 100 (got "0")'],
  ["gen:a fox?aspect=4x3", 'aspect must be W:H with integers from 1 to 100, like "4:3" (got "4x3")'],
  ["gen:a fox?fit=stretch", 'fit must be one of cover, contain, inside (got "stretch")'],
  ["gen:a fox?placeholder=yes", 'placeholder must be one of blur, none (got "yes")'],
  ["gen:a fox?size=2K&size=4K", 'parameter "size" is given twice; give each parameter once'],
  ["gen:a fox?size", 'parameter "size" has no value; write size=<value>'],
  ["gen:a fox?model=", 'model must be a model name of 1 to 200 characters without spaces (got "")'],
  ["gen:a fox?style=../../etc/passwd", 'style must be a style name of 1 to 64 letters, digits, ".", "_" or "-" (got "../../etc/passwd")'],
  ["gen:a fox?variant=../../x", 'variant must be 1 to 64 letters, digits, ".", "_" or "-" (got "../../x")'],
  ["gen:a fox\u0007 bell", "prompt must not contain control characters other than tab and newline (got U+0007)"],
  ["gen:a fox%00", "prompt must not contain control characters other than tab and newline (got U+0000)"],
  ["gen:a fox?alt=%1B[31mred", 'alt must be text of at most 4000 characters without control characters (got "\\u001b[31mred")'],
  [`gen:${LONG_PROMPT}`, "prompt must be at most 4000 characters (got 103999)"],
];

/** [name, manifest, line, column, what is wrong]; the message is `<file>:<line>:<col>: <what is wrong>`. */
const MANIFEST_CASES: [string, string, number, number, string][] = [
  ["a list", "- hero\n- fox\n", 1, 1, "a manifest must be a mapping with images: and an optional defaults: (got a list)"],
  ["empty", "", 1, 1, "the manifest is empty; it needs an images: mapping of names to prompts"],
  ["no images", "defaults:\n  size: 2K\n", 1, 1, "images: is missing; a manifest lists its images under images:"],
  ["images as a list", "images:\n  - prompt: a fox\n", 2, 3, "images must be a mapping of image names to images (got a list)"],
  [
    "bad indentation",
    "images:\n  hero:\n    prompt: a fox\n   size: 2K\n",
    4,
    1,
    "bad indentation (all mapping items must start at the same column); indent with spaces, every key of one mapping at the same column",
  ],
  ["tabs", "images:\n\thero:\n\t\tprompt: a fox\n", 2, 1, "a tab is used for indentation; YAML allows only spaces"],
  ["an unclosed quote", 'images:\n  hero:\n    prompt: "a fox\n', 4, 1, 'invalid YAML: missing closing "quote'],
  ["a duplicate name", "images:\n  hero:\n    prompt: a fox\n  hero:\n    prompt: a hare\n", 4, 3, 'duplicate image name "hero"; each image needs its own name'],
  [
    "an unknown field",
    "images:\n  hero:\n    prompt: a fox\n    colour: red\n",
    4,
    5,
    'unknown field "colour"; allowed: prompt, size, temperature, topP, model, variant, style, w, format, quality, aspect, fit, placeholder, alt, edit, ref',
  ],
  [
    "an unknown default",
    "defaults:\n  colour: red\nimages:\n  hero:\n    prompt: a fox\n",
    2,
    3,
    'unknown field "colour"; allowed: size, temperature, topP, model, variant, style, w, format, quality, aspect, fit, placeholder, alt, edit, ref',
  ],
  ["an empty prompt", 'images:\n  hero:\n    prompt: ""\n', 3, 13, 'prompt must be non-empty text (got "")'],
  ["a number as prompt", "images:\n  hero:\n    prompt: 42\n", 3, 13, "prompt must be text (got 42)"],
  ["size 8K", "images:\n  hero:\n    prompt: a fox\n    size: 8K\n", 4, 11, 'size must be one of 1K, 2K, 4K (got "8K")'],
  ["temperature as a word", "images:\n  hero:\n    prompt: a fox\n    temperature: hot\n", 4, 18, 'temperature must be a number from 0 to 2 (got "hot")'],
  ["negative topP", "images:\n  hero:\n    prompt: a fox\n    topP: -1\n", 4, 11, "topP must be a number from 0 to 1 (got -1)"],
  ["a negative width", "images:\n  hero:\n    prompt: a fox\n    w: [64, -1]\n", 4, 13, "w must be a list of integers from 1 to 8192 (got -1)"],
  [
    "a name with path traversal",
    "images:\n  ../../evil:\n    prompt: a fox\n",
    2,
    3,
    'image name "../../evil" is not allowed; a name is a letter, then up to 63 letters, digits, "_" or "-"',
  ],
  [
    "a style with path traversal",
    "images:\n  hero:\n    prompt: a fox\n    style: ../x\n",
    4,
    12,
    'style must be a style name of 1 to 64 letters, digits, ".", "_" or "-" (got "../x")',
  ],
  [
    "a control character",
    'images:\n  hero:\n    prompt: "a\\u0007fox"\n',
    3,
    13,
    "prompt must not contain control characters other than tab and newline (got U+0007)",
  ],
];

/** Valid prompts that try to break out of the generated module: they must build, and round-trip as text. */
const HOSTILE_PROMPTS = [
  'a fox"; throw new Error("pwned"); "',
  "a fox */ throw 1; /*",
  "a fox `${globalThis.pwned}` </script><script>alert(1)</script>",
  "a fox \u2028 and \u2029 separators",
  "a fox\\u0022 with a backslash \\",
];

function quoteId(id: string): string {
  return JSON.stringify(id.length > 100 ? `${id.slice(0, 97)}…` : id);
}
const genMessage = (id: string, problem: string, file: string) => `Invalid gen: import ${quoteId(id)} in ${file}: ${problem}`;

function expectNoStack(result: Awaited<ReturnType<typeof viteBuild>>) {
  expect(result.error?.errors?.[0]?.stack).toBe(`Error: ${result.message}`);
}

describe("bad gen: imports fail the build with the import, what is wrong and what is allowed", () => {
  it.each(GEN_CASES.map(([id, problem]) => [id.length > 60 ? `${id.slice(0, 40)}… (${id.length} chars)` : id, id, problem]))(
    "%s",
    async (_, id, problem) => {
      const root = await reliabilityProject(importing(id!));
      const result = await viteBuild(root, { strict: false });
      expect(result.message).toBe(genMessage(id!, problem!, path.join(root, "src/main.js")));
      expectNoStack(result);
    },
  );

  it("an unknown style names the import and the styles that exist", async () => {
    const id = "gen:a fox?style=oilpaint";
    const root = await reliabilityProject(importing(id));
    const result = await viteBuild(root, { strict: false, styles: { watercolor: "loose watercolor" } });
    expect(result.message).toBe(`${path.join(root, "src/main.js")} (import "${id}"): unknown style "oilpaint"; defined styles: watercolor`);
    expectNoStack(result);
  });

  it("a config style whose name tries path traversal is refused", async () => {
    const root = await reliabilityProject(importing("gen:a fox?style=watercolor"));
    const result = await viteBuild(root, { strict: false, styles: { "../../evil": "x" } });
    expect(result.message).toBe(
      'Invalid option "styles" in imagegen options: name "../../evil" is not allowed; a style name is 1 to 64 letters, digits, ".", "_" or "-"',
    );
    expectNoStack(result);
  });
});

describe("bad manifests fail the build with file:line:col", () => {
  it.each(MANIFEST_CASES)("%s", async (_, yaml, line, column, problem) => {
    const root = await reliabilityProject(`import images from "./m.prompts.yaml";\nconsole.log(images);\n`, { "src/m.prompts.yaml": yaml });
    const result = await viteBuild(root, { strict: false });
    expect(result.message).toBe(`${path.join(root, "src/m.prompts.yaml")}:${line}:${column}: ${problem}`);
    expectNoStack(result);
  });
});

describe("valid prompts that look like code", () => {
  it("build, and reach the page as the same text", async () => {
    const ids = HOSTILE_PROMPTS.map((prompt) => `gen:${encodeURIComponent(prompt).replace(/%20/g, " ")}?w=32&format=png`);
    const main = `${ids.map((id, i) => `import * as image${i} from ${JSON.stringify(id)};`).join("\n")}
document.querySelector("#app").textContent = JSON.stringify([${ids.map((_, i) => `image${i}.alt`).join(", ")}]);\n`;
    const root = await reliabilityProject(main);
    const result = await viteBuild(root, { strict: false });
    expect(result.error).toBeUndefined();
    const chunk = result.output!.output.find((file) => file.type === "chunk")!;
    const app = { textContent: "" };
    const globals = globalThis as { pwned?: unknown };
    new Function("document", (chunk as { code: string }).code)({ querySelector: () => app });
    expect(JSON.parse(app.textContent)).toEqual(HOSTILE_PROMPTS.map((prompt) => prompt.trim()));
    expect(globals.pwned).toBeUndefined();
  });
});

describe("the dev server outlives every bad import and manifest", () => {
  let server: ViteDevServer;
  let base: string;
  let root: string;
  const logged: string[] = [];

  beforeAll(async () => {
    root = await reliabilityProject(importing("gen:a red fox?w=64&format=webp"));
    const customLogger = {
      info() {},
      warn: (m: string) => logged.push(m),
      warnOnce: (m: string) => logged.push(m),
      error: (m: string) => logged.push(m),
      clearScreen() {},
      hasErrorLogged: () => false,
      hasWarned: false,
    } as ViteLogger;
    server = await createServer({
      root,
      configFile: false,
      customLogger,
      server: { port: 0, host: "127.0.0.1", ws: false },
      plugins: [imagegen({ logger: captureLogger().logger, strict: false })],
    });
    await server.listen();
    base = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  const text = async (url: string) => {
    const response = await fetch(new URL(url, base));
    return { status: response.status, body: await response.text() };
  };
  /** The error Vite shows in its overlay for a failed module. */
  const overlayError = (html: string) => JSON.parse(/const error = (\{.*\})\n/.exec(html)![1]!) as { message: string; stack: string };

  async function expectGoodImageServed() {
    const main = await text("/src/main.js");
    expect(main.status).toBe(200);
    const moduleUrl = /from "([^"]*imagegen[^"]*)"/.exec(main.body)![1]!;
    const module = await text(moduleUrl);
    expect(module.status).toBe(200);
    const imageUrl = /"(\/@imagegen\/[^"]+\.webp)"/.exec(module.body)![1]!;
    const image = await fetch(new URL(imageUrl, base));
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/webp");
  }

  it("answers each bad module with its message and no stack, and still serves a good image after each", async () => {
    await expectGoodImageServed();
    for (const [i, [id, problem]] of GEN_CASES.entries()) {
      const file = path.join(root, "src", `bad-${i}.js`);
      await writeFile(file, importing(id));
      const importer = await text(`/src/bad-${i}.js`);
      expect(importer.status).toBe(200);
      const failed = await text(/from "([^"]*imagegen[^"]*)"/.exec(importer.body)![1]!);
      expect(failed.status).toBe(500);
      expect(overlayError(failed.body)).toEqual(expect.objectContaining({ message: genMessage(id, problem, file), stack: "" }));
      await expectGoodImageServed();
    }
    for (const [i, [, yaml, line, column, problem]] of MANIFEST_CASES.entries()) {
      const file = path.join(root, "src", `bad-${i}.prompts.yaml`);
      await writeFile(file, yaml);
      const failed = await text(`/src/bad-${i}.prompts.yaml?import`);
      expect(failed.status).toBe(500);
      expect(overlayError(failed.body)).toEqual(expect.objectContaining({ message: `${file}:${line}:${column}: ${problem}`, stack: "" }));
      await expectGoodImageServed();
    }
    // What the terminal shows: the messages, never a stack frame.
    expect(logged.join("\n")).not.toMatch(/\n\s+at /);
    expect(logged.length).toBeGreaterThanOrEqual(GEN_CASES.length + MANIFEST_CASES.length);
    expect(await readFile(path.join(root, "src", "main.js"), "utf8")).toContain("a red fox");
  });
});
