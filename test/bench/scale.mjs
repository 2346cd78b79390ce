// The scale sites: one prompt manifest of N images (1K originals, one 320 px WebP each) with an
// `imagegen.config.ts`, as a site grows, and the static app of the very files it emitted.
import { readFileSync, readdirSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { linkOrCopy, resetDir, writeApp } from "./apps.mjs";

/** What every image of a scale site asks for (the manifest's defaults). */
export const SCALE_OUTPUT = { size: "1K", w: 320, format: "webp" };

/** The prompt of image `index` of a scale site; `freshPngProvider` makes a PNG of its own for each. */
export function scalePrompt(index) {
  return `scale site image ${String(index).padStart(4, "0")}`;
}

/**
 * A site of `count` images in one manifest, `src/site.prompts.yaml`, and a two-line
 * `imagegen.config.ts` (read through c12 and jiti, as a user's would be).
 */
export async function writeScaleSite(root, count) {
  const lines = ["defaults:", `  size: ${SCALE_OUTPUT.size}`, `  w: [${SCALE_OUTPUT.w}]`, `  format: [${SCALE_OUTPUT.format}]`, "images:"];
  for (let i = 0; i < count; i++) lines.push(`  image-${String(i).padStart(4, "0")}:`, `    prompt: ${scalePrompt(i)}`);
  await mkdir(path.join(root, "src"), { recursive: true });
  await writeFile(path.join(root, "src", "site.prompts.yaml"), `${lines.join("\n")}\n`);
  await writeFile(
    path.join(root, "imagegen.config.ts"),
    `import { defineConfig } from "unplugin-imagegen";\nexport default defineConfig({ strict: true, concurrency: 8 });\n`,
  );
  await writeApp(root, [
    `import images from "./site.prompts.yaml";`,
    `const list = Object.values(images).map((i) => ({ src: i.src, width: i.width, height: i.height, srcset: i.srcset }));`,
    `document.querySelector("#app").textContent = JSON.stringify(list);`,
  ]);
}

/** The WebPs a built scale site emitted, imported as plain static assets, in the manifest's order. */
export async function writeScaleStaticApp(root, dist) {
  const staticDir = path.join(root, "src", "static");
  await mkdir(staticDir, { recursive: true });
  const files = (await readdir(path.join(dist, "assets"))).filter((name) => name.endsWith(".webp"));
  const byIndex = new Map();
  for (const name of files) {
    const index = /image-(\d{4})-\d+\.[0-9a-f]{10}\.webp$/.exec(name)?.[1];
    if (index !== undefined) byIndex.set(Number(index), name);
  }
  const imports = [];
  const objects = [];
  for (const [index, name] of [...byIndex].sort(([a], [b]) => a - b)) {
    await linkOrCopy(path.join(dist, "assets", name), path.join(staticDir, `${index}.webp`));
    imports.push(`import i${index} from "./static/${index}.webp";`);
    objects.push(`{ src: i${index}, width: ${SCALE_OUTPUT.w}, height: ${SCALE_OUTPUT.w}, srcset: i${index} + " ${SCALE_OUTPUT.w}w" }`);
  }
  await writeApp(root, [...imports, `const list = [\n${objects.join(",\n")}\n];`, `document.querySelector("#app").textContent = JSON.stringify(list);`]);
  return byIndex.size;
}

/**
 * The floor of a scale site's memory: the site's page and manifest import, built with a plugin that
 * does only what any would have to, answering the manifest with a module of the same shape as
 * imagegen's (one export per image, its URLs as Vite's asset placeholders, the default export
 * naming them all) and emitting the same WebPs, read from the static app's folder.
 */
export async function writeScaleBareApp(root) {
  await mkdir(path.join(root, "src"), { recursive: true });
  await writeFile(path.join(root, "src", "site.prompts.yaml"), "# answered by the bare plugin\n");
  await writeApp(root, [
    `import images from "./site.prompts.yaml";`,
    `const list = Object.values(images).map((i) => ({ src: i.src, width: i.width, height: i.height, srcset: i.srcset }));`,
    `document.querySelector("#app").textContent = JSON.stringify(list);`,
  ]);
}

/** The bare plugin of {@link writeScaleBareApp}, emitting the WebPs of `staticDir`. */
export function bareManifestPlugin(staticDir) {
  return {
    name: "bench-bare-manifest",
    load(id) {
      if (!id.endsWith(".prompts.yaml")) return null;
      const indexes = readdirSync(staticDir).map((name) => Number.parseInt(name, 10)).sort((a, b) => a - b);
      const names = [];
      const lines = indexes.map((index) => {
        const name = `image${String(index).padStart(4, "0")}`;
        names.push(name);
        const source = readFileSync(path.join(staticDir, `${index}.webp`));
        const reference = this.emitFile({ type: "asset", fileName: `assets/bare-${index}.webp`, source });
        const url = JSON.stringify(`__VITE_ASSET__${reference}__`);
        const { w } = SCALE_OUTPUT;
        return [
          `export const ${name} = {`,
          `  src: ${url},`,
          `  width: ${w},`,
          `  height: ${w},`,
          `  format: "webp",`,
          `  sources: { "webp": ${url} + " ${w}w" },`,
          `  srcset: ${url} + " ${w}w",`,
          `  alt: ${JSON.stringify(scalePrompt(index))},`,
          `  placeholder: undefined,`,
          `};`,
        ].join("\n");
      });
      return [...lines, `export default {\n${names.map((name) => `  "${name}": ${name},`).join("\n")}\n};`, ""].join("\n");
    },
  };
}

/**
 * The scale figures for each of `counts` (ascending): a cold build (the store and derived cache
 * empty, `freshPng` making each original) and its peak RSS; `pairs` alternating pairs of warm
 * whole `vite build` processes against the static app of the files it emitted (after one untimed
 * pair); and, on the largest site, `imagegen check` and `imagegen list --json` against reading and
 * hashing the project's files, alternating, `commandRounds` times. `run(script, args, cwd)` runs a bench script in a
 * fresh process and resolves with `{ result, wallMs }`; `cli(args, cwd)` runs the CLI the same way.
 */
export async function benchScale({ apps, counts, pairs, commandRounds = pairs, freshPng, run, cli, log }) {
  const sites = [];
  for (const count of counts) {
    const root = path.join(apps, `scale-${count}`);
    const staticRoot = path.join(apps, `scale-${count}-static`);
    await resetDir(root);
    await resetDir(staticRoot);
    await writeScaleSite(root, count);
    log(`Scale: ${count} images in one manifest with an imagegen.config.ts, cold (a fresh 1024 px PNG per prompt)…`);
    const { result: cold } = await run("child-build.mjs", { side: "imagegen", root, freshPng }, root);
    if (cold.providerCalls !== count) throw new Error(`the cold scale build made ${cold.providerCalls} originals, not ${count}`);
    log(`  cold: ${fmt(cold.buildMs)}, peak RSS ${cold.maxRssMiB.toFixed(0)} MiB`);
    const emitted = await writeScaleStaticApp(staticRoot, path.join(root, "dist"));
    if (emitted !== count) throw new Error(`the scale build emitted ${emitted} WebPs, not ${count}`);

    log(`  warm: ${pairs} alternating pair(s) of whole processes, imagegen and the static app of the same ${count} files…`);
    const warm = { imagegen: [], static: [], ratios: [] };
    for (let pair = 0; pair <= pairs; pair++) {
      const order = pair % 2 === 0 ? ["imagegen", "static"] : ["static", "imagegen"];
      const walls = {};
      for (const side of order) {
        const { result, wallMs } = await run("child-build.mjs", side === "imagegen" ? { side, root, freshPng } : { side, root: staticRoot }, side === "imagegen" ? root : staticRoot);
        if (result.providerCalls !== 0) throw new Error("a warm scale build generated originals");
        walls[side] = wallMs;
      }
      if (pair === 0) continue;
      warm.imagegen.push(walls.imagegen);
      warm.static.push(walls.static);
      warm.ratios.push(walls.imagegen / walls.static);
      log(`  pair ${pair}: imagegen ${fmt(walls.imagegen)}, static ${fmt(walls.static)}`);
    }
    // Peak memory of one more warm build of each side, and of the bare plugin's build of the same files.
    const bareRoot = path.join(apps, `scale-${count}-bare`);
    await resetDir(bareRoot);
    await writeScaleBareApp(bareRoot);
    const staticDir = path.join(staticRoot, "src", "static");
    const peaks = {};
    for (const [side, args, cwd] of [
      ["imagegen", { side: "imagegen", root, freshPng }, root],
      ["static", { side: "static", root: staticRoot }, staticRoot],
      ["bare", { side: "bare", root: bareRoot, staticDir }, bareRoot],
    ]) {
      peaks[side] = (await run("child-build.mjs", args, cwd)).result.maxRssMiB;
    }
    log(`  warm peak RSS: imagegen ${Math.round(peaks.imagegen)} MiB, static app ${Math.round(peaks.static)} MiB, a bare plugin emitting the same files ${Math.round(peaks.bare)} MiB`);
    sites.push({ count, root, cold, warm, peaks });
  }

  const largest = sites.at(-1);
  log(`Scale: imagegen check and list --json on ${largest.count} images ÷ reading and hashing the project's files (${commandRounds} rounds)…`);
  const commands = { check: [], list: [], floor: [], checkRatios: [], listRatios: [] };
  let hashed;
  for (let round = 0; round <= commandRounds; round++) {
    const order = [["check"], ["list", "--json"], "floor"];
    const walls = {};
    for (const step of round % 2 === 0 ? order : [...order].reverse()) {
      if (step === "floor") {
        const { result, wallMs } = await run("child-hash.mjs", { root: largest.root }, largest.root);
        hashed = result;
        walls.floor = wallMs;
      } else {
        walls[step[0]] = await cli(step, largest.root);
      }
    }
    if (round === 0) continue;
    for (const name of ["check", "list", "floor"]) commands[name].push(walls[name]);
    commands.checkRatios.push(walls.check / walls.floor);
    commands.listRatios.push(walls.list / walls.floor);
    log(`  round ${round}: check ${fmt(walls.check)}, list --json ${fmt(walls.list)}, read and hash ${fmt(walls.floor)}`);
  }
  return { sites, commands, hashed };
}

function fmt(ms) {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
