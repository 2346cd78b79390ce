import { copyFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import sharp from "sharp";
import imagegen from "unplugin-imagegen/vite";
import imagegenWebpack from "unplugin-imagegen/webpack";
import webpack from "webpack";
import type { AddressInfo } from "node:net";
import { type Rollup, build, createServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, captureLogger, copyFixture, filesContaining, pageData } from "./support/fixture-project.js";
import { runCli } from "./support/run-cli.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator?.close());

async function buildSite(root: string, api: Emulator = emulator) {
  return (await build({
    root,
    configFile: false,
    logLevel: "silent",
    build: { modulePreload: { polyfill: false } },
    plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: api.url, logger: captureLogger().logger, strict: true })],
  })) as Rollup.RolldownOutput;
}

/** Mean absolute difference per channel (0–255) of two images at 64×64, the banner rows left out. */
async function difference(a: string | Buffer, b: string | Buffer): Promise<number> {
  const pixels = (image: string | Buffer) => sharp(image).resize(64, 64, { fit: "cover" }).removeAlpha().raw().toBuffer();
  const [x, y] = await Promise.all([pixels(a), pixels(b)]);
  const rows = 56 * 64 * 3;
  let sum = 0;
  for (let i = 0; i < rows; i++) sum += Math.abs(x[i]! - y[i]!);
  return sum / rows;
}

async function pixelAt(file: string, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * 3;
  return [data[at]!, data[at + 1]!, data[at + 2]!];
}

const editRequests = () => emulator.requests.filter((r) => (r.body as any).type === "IMAGE_EDITOR");

describe("edits and references (IMAGE_EDITOR)", () => {
  it("uploads each input once, makes one edit per image from the input's pixels, remakes only what a changed input feeds, and nothing on a rename", async () => {
    const root = await copyFixture("vite-edits");
    const photos = path.join(root, "src/photos");
    emulator.reset();

    // 1. First build: three images from three distinct files (beach.png is used twice).
    await buildSite(root);
    expect(emulator.uploads).toHaveLength(3);
    expect(emulator.uploads.map((u) => (u.body as any).name).sort()).toEqual(["beach.png", "product.png", "style.png"]);
    expect(emulator.uploads.every((u) => u.headers["content-type"]!.startsWith("multipart/form-data"))).toBe(true);
    expect(emulator.requests).toHaveLength(3);
    expect(editRequests()).toHaveLength(3);
    const branded = editRequests().find((r) => (r.body as any).promptObject.prompt.startsWith("The same beach"))!.body as any;
    expect(Object.keys(branded.promptObject).sort()).toEqual(["imageSize", "imageUrl", "prompt", "referenceImage1", "temperature", "topP"]);
    expect(branded.promptObject.imageUrl).toMatch(/^images\/.*beach\.png$/);
    expect(branded.promptObject.referenceImage1).toMatch(/^images\/.*style\.png$/);

    // The output shows the input: close to the edited photo, far from another one.
    const page = await pageData(root);
    const stormy = path.join(root, "dist", page.stormy!);
    const poster = path.join(root, "dist", page.poster!);
    expect((await sharp(stormy).metadata()).width).toBe(256);
    expect(await difference(stormy, path.join(photos, "beach.png"))).toBeLessThan(30);
    expect(await difference(stormy, path.join(photos, "product.png"))).toBeGreaterThan(80);
    expect(await difference(poster, path.join(photos, "product.png"))).toBeLessThan(30);
    // The reference shows too: its inset (lower right) is the brand's yellow where the plain edit is blue.
    const [r1, g1, b1] = await pixelAt(path.join(root, "dist", page.branded!), 210, 200);
    expect(r1! > 180 && g1! > 160 && b1! < 90).toBe(true);
    const [r0, , b0] = await pixelAt(stormy, 210, 200);
    expect(b0! > 150 && r0! < 90).toBe(true);

    // The lock records each input's path and sha256.
    const lock = JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8"));
    const entries = Object.values(lock.images) as any[];
    expect(entries.find((e) => e.prompt.startsWith("The same beach")).inputs).toEqual([
      { role: "edit", path: "src/photos/beach.png", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      { role: "ref", path: "brand/style.png", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);

    // 2. Second build: nothing uploaded, nothing asked.
    emulator.reset();
    await buildSite(root);
    expect(emulator.uploads).toHaveLength(0);
    expect(emulator.requests).toHaveLength(0);
    expect((await runCli(["check"], { cwd: root })).code).toBe(0);
    const list = JSON.parse((await runCli(["list", "--json"], { cwd: root })).stdout);
    const listed = list.images.find((image: any) => image.prompt.startsWith("The same beach"));
    expect(listed.status).toBe("ok");
    expect(listed.generation.inputs.map((input: any) => `${input.role} ${input.path}`)).toEqual(["edit src/photos/beach.png", "ref brand/style.png"]);
    expect(JSON.stringify(list)).not.toContain(root);

    // 3. New bytes in beach.png: check calls both images that use it stale; generate remakes those two only.
    await sharp(path.join(photos, "product.png")).rotate(180).toFile(path.join(photos, "beach.png"));
    const check = await runCli(["check"], { cwd: root });
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/stale .*Make the sky stormy.*edit src\/photos\/beach\.png changed since the image was made/);
    expect(check.stdout.match(/^stale /gm)).toHaveLength(2);
    emulator.reset();
    const generate = await runCli(["generate"], { cwd: root, apiUrl: emulator.url });
    expect(generate.code, generate.stderr).toBe(0);
    expect(emulator.uploads.map((u) => (u.body as any).name)).toEqual(["beach.png"]);
    expect(editRequests().map((r) => (r.body as any).promptObject.prompt).sort()).toEqual([
      "Make the sky stormy",
      "The same beach at noon, in the brand's style",
    ]);
    // generate drops the two replaced images from the lock, which holds the images in use: check is
    // clean, and notes their originals, kept in the store (a revert of beach.png pays nothing).
    const after = await runCli(["check"], { cwd: root });
    expect(after.code, after.stdout).toBe(0);
    expect(after.stdout.match(/^unused .*\(in \.imagegen\/, used nowhere; kept until `imagegen prune`\)$/gm)).toHaveLength(2);

    // 4. A renamed reference with the same bytes: nothing is made, nothing uploaded.
    await rename(path.join(root, "brand/style.png"), path.join(root, "brand/look.png"));
    const main = path.join(root, "src/main.js");
    await writeFile(main, (await readFile(main, "utf8")).replace("../brand/style.png", "../brand/look.png"));
    emulator.reset();
    await buildSite(root);
    expect(emulator.uploads).toHaveLength(0);
    expect(emulator.requests).toHaveLength(0);

    // The report shows each image's inputs beside it.
    expect((await runCli(["report"], { cwd: root })).code).toBe(0);
    const report = await readFile(path.join(root, "imagegen-report/index.html"), "utf8");
    expect(report).toContain("src/photos/beach.png");
    expect(report).toContain("brand/look.png");

    // 5. Another API (here another emulator, at another origin): a path remembered from the first is
    // never sent to it; the file is uploaded to it once, and the edit is one request.
    const fresh = await startEmulator();
    try {
      const manifest = path.join(root, "src/site.prompts.yaml");
      await writeFile(manifest, (await readFile(manifest, "utf8")).replace("pastel", "dark"));
      await buildSite(root, fresh);
      expect(fresh.uploads.map((u) => (u.body as any).name)).toEqual(["product.png"]);
      expect(fresh.requests.map((r) => (r.body as any).type)).toEqual(["IMAGE_EDITOR"]);
      expect(fresh.requests.map((r) => (r.body as any).promptObject.imageUrl)).toEqual([expect.stringContaining("product")]);
    } finally {
      await fresh.close();
    }

    expect(await filesContaining(root, FAKE_API_KEY)).toEqual([]);
  });

  it("names edit, the path and the importing file when an input is missing", async () => {
    const root = await copyFixture("vite-edits");
    await rm(path.join(root, "src/photos/beach.png"));
    emulator.reset();
    const error = await buildSite(root).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/src\/main\.js.*edit "\.\/photos\/beach\.png" does not exist/);
    expect(error?.message).not.toMatch(/\n\s+at /);
    // Nothing is asked for the images of the missing file (the manifest's poster may still be made).
    expect(emulator.uploads.map((u) => (u.body as any).name)).not.toContain("beach.png");
    expect(emulator.requests.map((r) => (r.body as any).promptObject.prompt)).not.toContain("Make the sky stormy");
  });

  it("regenerates an edit in the dev server when its input file changes", async () => {
    const root = await copyFixture("vite-edits");
    const server = await createServer({
      root,
      configFile: false,
      logLevel: "silent",
      server: { port: 0, host: "127.0.0.1", ws: false },
      plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: captureLogger().logger })],
    });
    try {
      await server.listen();
      const base = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
      const get = async (url: string) => (await fetch(new URL(url, base))).text();
      const stormyUrl = [...(await get("/src/main.js")).matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!).find((u) => u.includes("imagegen"))!;
      const imageUrl = async () => /"(\/@imagegen\/make-the-sky-stormy[^"]+)"/.exec(await get(stormyUrl))?.[1];
      await expect.poll(imageUrl, { timeout: 20_000 }).toBeDefined();
      const before = await imageUrl();
      emulator.reset();

      await sharp({ create: { width: 96, height: 64, channels: 3, background: "#20c040" } })
        .png()
        .toFile(path.join(root, "src/photos/beach.png"));
      await expect.poll(imageUrl, { timeout: 20_000 }).not.toBe(before);
      await expect.poll(() => editRequests().map((r) => (r.body as any).promptObject.prompt), { timeout: 20_000 }).toContain("Make the sky stormy");
      expect(emulator.uploads.map((u) => (u.body as any).name)).toEqual(["beach.png"]);
    } finally {
      await server.close();
    }
  });

  it("works the same in webpack, where one id in two folders edits two files", async () => {
    const root = await copyFixture("vite-edits");
    // The same import in src/alt/ edits src/alt/photos/beach.png, a copy of product.png.
    await mkdir(path.join(root, "src/alt/photos"), { recursive: true });
    await copyFile(path.join(root, "src/photos/product.png"), path.join(root, "src/alt/photos/beach.png"));
    await writeFile(path.join(root, "src/alt/page.js"), 'export { default } from "gen:Make the sky stormy?edit=./photos/beach.png&w=256&format=png";\n');
    const main = path.join(root, "src/main.js");
    await writeFile(
      main,
      `import alt from "./alt/page.js";\n${(await readFile(main, "utf8")).replace("poster: poster.src", "poster: poster.src, alt")}`,
    );
    const run = () =>
      new Promise<webpack.Stats>((resolve, reject) => {
        const compiler = webpack({
          mode: "production",
          context: root,
          entry: "./src/main.js",
          output: { path: path.join(root, "dist"), filename: "main.js", publicPath: "/", clean: true },
          plugins: [imagegenWebpack({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: captureLogger().logger, strict: true })],
        });
        compiler.run((error, stats) => compiler.close(() => (error ? reject(error) : resolve(stats!))));
      });
    emulator.reset();
    const stats = await run();
    expect(stats.hasErrors(), stats.toString("errors-only")).toBe(false);
    // Three distinct files by content (the copy shares product.png's bytes), four images.
    expect(emulator.uploads).toHaveLength(3);
    expect(editRequests()).toHaveLength(4);
    const page = await pageData(root);
    expect(await difference(path.join(root, "dist", page.stormy!), path.join(root, "src/photos/beach.png"))).toBeLessThan(30);
    expect(await difference(path.join(root, "dist", page.alt!), path.join(root, "src/photos/product.png"))).toBeLessThan(30);

    emulator.reset();
    expect((await run()).hasErrors()).toBe(false);
    expect(emulator.uploads).toHaveLength(0);
    expect(emulator.requests).toHaveLength(0);
  });
});
