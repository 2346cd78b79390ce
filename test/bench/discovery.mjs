// `node test/bench/discovery.mjs` (after `pnpm build`): how long the CLI takes to find a project's
// files with the default `sources` (every script, component and markdown file under the root that
// git would not ignore), on a generated tree of 5,000 source files beside 50,000 files in ignored
// folders. Not a test: it prints medians, and the ratio against a plain fast-glob of the same
// patterns that skips only the always-ignored folders and reads no .gitignore (the floor).
// Settings (environment): BENCH_DISCOVERY_RUNS (default 11).
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ALWAYS_IGNORED, DEFAULT_SOURCES, discoverSpecs, findProjectFiles, resolveOptions } from "@imagegen/core";
import fg from "fast-glob";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, ".work", "discovery");
const runs = Number(process.env.BENCH_DISCOVERY_RUNS ?? 11);
const log = (message) => process.stderr.write(`${message}\n`);

const SOURCE_FILES = 5_000;
const IGNORED_FILES = 50_000;
/** Where the source files sit: the layouts of Vite, Next, Nuxt, Remix, Astro and a docs site. */
const SOURCE_FOLDERS = ["src/components", "src/routes", "app", "app/routes", "pages", "components", "lib", "docs"];
const SOURCE_EXTENSIONS = ["ts", "tsx", "js", "vue", "svelte", "astro", "md", "mdx"];
/** Where the ignored files sit: 40,000 in node_modules, the rest in build output and gitignored folders. */
const IGNORED = [
  { folder: "node_modules", files: 40_000 },
  { folder: "dist", files: 4_000 },
  { folder: ".next", files: 3_000 },
  { folder: "generated", files: 2_000 }, // ignored by the root's .gitignore only
  { folder: "lib/.local", files: 1_000 }, // ignored by lib/.gitignore only
];

async function makeTree() {
  log(`Writing ${SOURCE_FILES} source files and ${IGNORED_FILES} ignored files under ${path.relative(process.cwd(), root)}…`);
  await rm(root, { recursive: true, force: true });
  const files = [];
  for (let i = 0; i < SOURCE_FILES; i++) {
    const folder = SOURCE_FOLDERS[i % SOURCE_FOLDERS.length];
    const ext = SOURCE_EXTENSIONS[Math.floor(i / SOURCE_FOLDERS.length) % SOURCE_EXTENSIONS.length];
    // 25 files a folder, as a real tree has; one file in 50 imports an image.
    const text = i % 50 === 0 ? `import hero from "gen:image ${i}";\nexport default hero;\n` : `export const value${i} = ${i};\n`;
    const body = ext === "vue" || ext === "svelte" || ext === "md" ? `<script>\n${text}</script>\n` : ext === "astro" ? `---\n${text}---\n` : text;
    files.push([`${folder}/part-${Math.floor(i / 200)}/file-${i}.${ext}`, body]);
  }
  for (const { folder, files: count } of IGNORED) {
    for (let i = 0; i < count; i++) files.push([`${folder}/pkg-${Math.floor(i / 40)}/lib/file-${i}.js`, `import x from "gen:never seen ${i}";\n`]);
  }
  files.push([".gitignore", "generated/\n*.log\n"], ["lib/.gitignore", ".local/\n"]);
  const dirs = new Set(files.map(([file]) => path.dirname(path.join(root, file))));
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  for (let i = 0; i < files.length; i += 256) {
    await Promise.all(files.slice(i, i + 256).map(([file, text]) => writeFile(path.join(root, file), text)));
  }
}

async function time(work) {
  const started = performance.now();
  const result = await work();
  return { ms: performance.now() - started, result };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

await makeTree();
const options = await resolveOptions({ root, configFile: false }, {});
const plain = () => fg(DEFAULT_SOURCES, { cwd: root, onlyFiles: true, dot: true, ignore: ALWAYS_IGNORED, followSymbolicLinks: false });

const sides = {
  "fast-glob alone (floor)": [],
  "findProjectFiles (default sources + .gitignore)": [],
  "discoverSpecs (files + read + scan + keys)": [],
};
let counts;
for (let run = 0; run < runs; run++) {
  const floor = await time(plain);
  const files = await time(() => findProjectFiles(options));
  const discovery = await time(() => discoverSpecs(options));
  sides["fast-glob alone (floor)"].push(floor.ms);
  sides["findProjectFiles (default sources + .gitignore)"].push(files.ms);
  sides["discoverSpecs (files + read + scan + keys)"].push(discovery.ms);
  counts = { floor: floor.result.length, sources: files.result.sources.length, images: discovery.result.specs.length };
}

if (counts.sources !== SOURCE_FILES) throw new Error(`found ${counts.sources} source files, expected ${SOURCE_FILES}`);
const floorMs = median(sides["fast-glob alone (floor)"]);
console.log(`Tree: ${SOURCE_FILES} source files, ${IGNORED_FILES} in ignored folders; ${runs} runs, medians (first run in brackets).`);
console.log(`fast-glob alone also returned ${counts.floor - SOURCE_FILES} gitignored files; discovery found ${counts.images} images.`);
for (const [name, values] of Object.entries(sides)) {
  const ms = median(values);
  console.log(`${name.padEnd(50)} ${ms.toFixed(1).padStart(7)} ms  [${values[0].toFixed(1)} ms]  ×${(ms / floorMs).toFixed(2)}`);
}
console.log(
  JSON.stringify({
    sourceFiles: SOURCE_FILES,
    ignoredFiles: IGNORED_FILES,
    runs,
    ...Object.fromEntries(Object.entries(sides).map(([name, values]) => [name.split(" ")[0], Math.round(median(values) * 10) / 10])),
  }),
);
