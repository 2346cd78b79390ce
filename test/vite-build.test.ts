import { mkdir, readFile, rename } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import sharp from "sharp";
import imagegen from "unplugin-imagegen/vite";
import { type Rollup, build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, captureLogger, copyFixture, filesContaining, listFiles, pageData } from "./support/fixture-project.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator?.close());

async function buildFixture(root: string, logger = captureLogger().logger) {
  const result = (await build({
    root,
    configFile: false,
    logLevel: "silent",
    build: { modulePreload: { polyfill: false } },
    plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger, strict: true })],
  })) as Rollup.RolldownOutput;
  return result;
}

describe("vite build", () => {
  it("generates each unique image once, emits hashed variants of the right sizes, and pays nothing on the second build", async () => {
    const root = await copyFixture("vite-basic");
    const log = captureLogger();
    emulator.reset();

    await buildFixture(root, log.logger);

    // hero (imported twice), fox, and two manifest images: four distinct originals.
    expect(emulator.requests).toHaveLength(4);
    const prompts = emulator.requests.map((r) => (r.body as any).promptObject.prompt).sort();
    expect(prompts).toEqual([
      "A fishing harbour at blue hour",
      "A lighthouse at dawn, “quoted”, with dots... and a ?",
      "Five people around a whiteboard, warm light",
      "東京の夜景、a red fox",
    ]);
    expect(emulator.requests.find((r) => (r.body as any).promptObject.prompt.startsWith("A lighthouse"))!.body).toMatchObject({
      type: "IMAGE_GENERATOR",
      model: "gemini-3-pro-image-preview",
      promptObject: { imageSize: "2K", temperature: 1, topP: 0.95 },
    });

    const files = await listFiles(path.join(root, "dist"));
    const images = files.filter((f) => /\.(avif|webp|jpg|png)$/.test(f));
    const described = await Promise.all(
      images.map(async (file) => {
        const { format, width, height } = await sharp(path.join(root, "dist", file)).metadata();
        return { file, format, width, height };
      }),
    );
    const hero = described.filter((d) => d.file.includes("a-lighthouse-at-dawn"));
    expect(hero.map(({ format, width, height }) => `${format} ${width}x${height}`).sort()).toEqual([
      "heif 1280x1280",
      "heif 640x640",
      "webp 1280x1280",
      "webp 640x640",
    ]);
    expect(hero.every((d) => /^assets\/a-lighthouse-at-dawn-quoted-with-\d+\.[0-9a-f]{10}\.(avif|webp)$/.test(d.file))).toBe(true);
    const fox = described.filter((d) => d.file.startsWith("assets/a-red-fox"));
    expect(fox.map(({ format, width, height }) => `${format} ${width}x${height}`).sort()).toEqual(["jpeg 400x300", "webp 400x300"]);

    const page = await pageData(root);
    expect(page.hero).toMatch(/^\/assets\/a-lighthouse-at-dawn-quoted-with-1280\.[0-9a-f]{10}\.webp$/);
    expect(page.heroAgain).toBe(page.hero);
    expect(page.fox).toMatchObject({ width: 400, height: 300, format: "jpeg", alt: "東京の夜景、a red fox" });
    expect(page.fox.placeholder).toMatch(/^data:image\/(webp|png);base64,/);
    expect(page.fox.sources.webp).toMatch(/^\/assets\/a-red-fox-400\.[0-9a-f]{10}\.webp 400w$/);
    expect(page.teamPhoto).toMatchObject({ width: 320, height: 213, format: "webp" });
    expect(page.images["team-photo"]).toEqual(page.teamPhoto);
    expect(page.images.harbour.srcset).toMatch(/^\/assets\/a-fishing-harbour-at-blue-hour-320\.[0-9a-f]{10}\.webp 320w$/);
    for (const url of [page.hero, page.fox.src, page.teamPhoto.src]) {
      expect(files).toContain(url.slice(1));
    }

    // The store and the lock hold the four originals.
    const lock = JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8"));
    expect(Object.keys(lock.images)).toHaveLength(4);

    // Second build, a new plugin instance: the store answers everything, byte-identical output.
    emulator.reset();
    await buildFixture(root);
    expect(emulator.requests).toHaveLength(0);
    expect(await listFiles(path.join(root, "dist"))).toEqual(files);

    // The key is nowhere: not in the output, the store, the lock, the cache or the log.
    for (const dir of ["dist", ".imagegen", "node_modules/.cache/imagegen"]) {
      expect(await filesContaining(path.join(root, dir), FAKE_API_KEY)).toEqual([]);
    }
    expect(await readFile(path.join(root, "imagegen.lock.json"), "utf8")).not.toContain(FAKE_API_KEY);
    expect(log.lines.join("\n")).not.toContain(FAKE_API_KEY);
    expect(log.lines.some((line) => line.startsWith("generated"))).toBe(true);
  });

  it("fails with the parameter, the allowed values and the importing file for a bad gen: import", async () => {
    const root = await copyFixture("vite-basic");
    const main = path.join(root, "src", "main.js");
    await import("node:fs/promises").then((fs) =>
      fs.writeFile(main, `import x from "gen:a fox?size=8K";\nconsole.log(x);\n`),
    );
    emulator.reset();
    await expect(buildFixture(root)).rejects.toThrow(/size must be one of 1K, 2K, 4K \(got "8K"\)/);
    await expect(buildFixture(root)).rejects.toThrow(/main\.js/);
    expect(emulator.requests).toHaveLength(0);
  });

  it("writes the images' URLs with Vite's base and renderBuiltUrl, as Vite writes its own assets'", async () => {
    const root = await copyFixture("vite-basic");
    await buildFixture(root);
    const files = await listFiles(path.join(root, "dist"));
    const withBase = async (options: { base?: string; experimental?: object }) => {
      await build({
        root,
        configFile: false,
        logLevel: "silent",
        ...options,
        build: { modulePreload: { polyfill: false } },
        plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: captureLogger().logger, strict: true })],
      });
      return pageData(root);
    };

    const underBase = await withBase({ base: "/static/site/" });
    expect(underBase.hero).toMatch(/^\/static\/site\/assets\/a-lighthouse-at-dawn-quoted-with-1280\.[0-9a-f]{10}\.webp$/);
    expect(files).toContain(underBase.hero.slice("/static/site/".length));
    expect(underBase.fox.sources.webp).toMatch(/^\/static\/site\/assets\/a-red-fox-400\.[0-9a-f]{10}\.webp 400w$/);

    const onCdn = await withBase({ experimental: { renderBuiltUrl: (fileName: string) => `https://cdn.example/${fileName}` } });
    expect(onCdn.hero).toBe(`https://cdn.example/${underBase.hero.slice("/static/site/".length)}`);
    expect(onCdn.images.harbour.srcset).toMatch(/^https:\/\/cdn\.example\/assets\/a-fishing-harbour-at-blue-hour-320\.[0-9a-f]{10}\.webp 320w$/);
  });

  it("keeps the store and lock at the project root when Vite's root is a source folder, and puts images beside the assetFileNames folder", async () => {
    // As Nuxt sets Vite's root to app/ and SvelteKit writes assets under _app/immutable/assets.
    const project = await copyFixture("vite-basic");
    const app = path.join(project, "app");
    await mkdir(app);
    for (const entry of ["index.html", "src"]) await rename(path.join(project, entry), path.join(app, entry));
    await build({
      root: app,
      configFile: false,
      logLevel: "silent",
      build: { outDir: path.join(project, "dist"), rollupOptions: { output: { assetFileNames: "_app/immutable/assets/[name].[hash][extname]" } } },
      plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: captureLogger().logger })],
    });
    expect(await listFiles(path.join(project, ".imagegen"))).not.toEqual([]);
    await expect(readFile(path.join(project, "imagegen.lock.json"), "utf8")).resolves.toContain("A fishing harbour");
    expect((await listFiles(app)).filter((file) => /imagegen/.test(file))).toEqual([]);
    const images = (await listFiles(path.join(project, "dist"))).filter((file) => /\.(avif|webp|jpg|png)$/.test(file));
    expect(images.length).toBeGreaterThan(0);
    for (const file of images) expect(file.split(path.sep).join("/")).toMatch(/^_app\/immutable\/assets\/[a-z0-9-]+-\d+\.[0-9a-f]{10}\.\w+$/);
  });
});
