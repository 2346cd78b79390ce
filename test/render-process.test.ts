import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { readFile, readdir, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import imagegen from "unplugin-imagegen/vite";
import { createServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY } from "./support/fixture-project.js";
import { importing, reliabilityProject, storeState, viteBuild } from "./reliability/support/project.js";

// Issue 27: on Linux, an original above 8 megapixels is rendered in a child process that imagegen
// starts with glibc told to give freed memory back (packages/core/src/render/render-process.ts).

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ apiKey: FAKE_API_KEY });
});
afterAll(() => emulator?.close());

const ID = "gen:a lighthouse at dawn?size=4K&w=96;160&format=avif;webp";
/** Its AVIFs take seconds: long enough to be killed in the middle. */
const HARBOUR = "gen:a harbour at noon?size=4K&w=1600;3200&format=avif";

/** The render processes among the children of `parent` (this process by default), with their environment. */
function renderProcesses(parent = process.pid): { pid: number; env: string[] }[] {
  let children: number[];
  try {
    children = readdirSync(`/proc/${parent}/task`).flatMap((task) =>
      readFileSync(`/proc/${parent}/task/${task}/children`, "utf8").split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return []; // the parent ended
  }
  return children.flatMap((pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("render-worker.mjs")) return [];
      return [{ pid, env: readFileSync(`/proc/${pid}/environ`, "utf8").split("\0") }];
    } catch {
      return []; // it ended meanwhile
    }
  });
}

async function until<T>(what: () => T | undefined, tries = 400): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const found = what();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("gave up waiting");
}

/** The emitted images of a build, by name (content-hashed), with their sizes. */
function images(outcome: Awaited<ReturnType<typeof viteBuild>>): string[] {
  return (outcome.output?.output ?? [])
    .filter((file) => file.type === "asset" && /\.(avif|webp)$/.test(file.fileName))
    .map((file) => `${file.fileName} ${file.type === "asset" ? file.source.length : 0}`)
    .sort();
}

const cacheDir = (root: string) => path.join(root, "node_modules", ".cache", "imagegen");

describe.runIf(process.platform === "linux")("the render process", () => {
  it("renders a 4K original apart, with the allocator's settings, to the same files as the build's own process, and ends when idle", { timeout: 120_000 }, async () => {
    const root = await reliabilityProject(importing(ID));
    const options = { apiKey: FAKE_API_KEY, apiUrl: emulator.url };
    emulator.reset();
    expect(renderProcesses()).toEqual([]);

    const apart = await viteBuild(root, options);
    expect(apart.error).toBeUndefined();
    // Idle, it is still there for a moment: started by this build, with glibc's trim threshold.
    const [child] = renderProcesses();
    expect(child?.env).toContain("MALLOC_TRIM_THRESHOLD_=1048576");
    expect(child?.env).toContain("IMAGEGEN_RENDER_PROCESS=0");
    expect(child?.env.join("\n")).not.toContain(FAKE_API_KEY);
    expect(images(apart)).toHaveLength(4);

    // The same rendition made in the build's own process is the same files, byte for byte.
    await rm(cacheDir(root), { recursive: true, force: true });
    process.env["IMAGEGEN_RENDER_PROCESS"] = "0";
    try {
      const here = await viteBuild(root, options);
      expect(here.error).toBeUndefined();
      expect(images(here)).toEqual(images(apart));
    } finally {
      delete process.env["IMAGEGEN_RENDER_PROCESS"];
    }
    // Paid once: the second build rendered the stored original again.
    expect(emulator.requests).toHaveLength(1);

    // Nothing to render: it ends on its own, and the next build starts none.
    await until(() => (renderProcesses().length === 0 ? true : undefined));
    const warm = await viteBuild(root, options);
    expect(images(warm)).toEqual(images(apart));
    expect(renderProcesses()).toEqual([]);
  });

  it("a render process killed mid-render fails the build with a clear error and loses nothing; the next build renders the image", { timeout: 120_000 }, async () => {
    const root = await reliabilityProject(importing(HARBOUR));
    const options = { apiKey: FAKE_API_KEY, apiUrl: emulator.url };
    emulator.reset();
    const building = viteBuild(root, options);
    const { pid } = await until(() => renderProcesses()[0]);
    process.kill(pid, "SIGKILL");
    const killed = await building;
    // Which image, from which import, and what happened.
    expect(killed.message).toBe(
      `Could not render "a harbour at noon" (${path.join(root, "src", "main.js")} (import "${HARBOUR}")): ` +
        "imagegen's render process ended (killed by SIGKILL) before it finished; the next build renders the image again",
    );
    const before = await storeState(root);
    expect(before.lockfile).toBe(true);

    const again = await viteBuild(root, options);
    expect(again.error).toBeUndefined();
    expect(images(again)).toHaveLength(2);
    // The original was stored by the first build and not paid for again.
    expect(emulator.requests).toHaveLength(1);
  });

  it("reads the original from the store itself, and a changed one is reported as the build's own process reports it", { timeout: 120_000 }, async () => {
    const root = await reliabilityProject(importing(ID));
    const options = { apiKey: FAKE_API_KEY, apiUrl: emulator.url };
    expect((await viteBuild(root, options)).error).toBeUndefined();
    // The original's bytes changed in place, its size kept: the store's size check passes, its hash does not.
    const [original] = (await readdir(path.join(root, ".imagegen"), { recursive: true })).filter((name) => name.endsWith(".png"));
    const file = path.join(root, ".imagegen", original!);
    const bytes = await readFile(file);
    bytes[bytes.length >> 1] ^= 0xff;
    await writeFile(file, bytes);
    const messages: (string | undefined)[] = [];
    for (const mode of ["apart", "here"]) {
      await rm(cacheDir(root), { recursive: true, force: true });
      if (mode === "here") process.env["IMAGEGEN_RENDER_PROCESS"] = "0";
      try {
        messages.push((await viteBuild(root, options)).message);
      } finally {
        delete process.env["IMAGEGEN_RENDER_PROCESS"];
      }
    }
    expect(messages[0]).toMatch(/^The stored original of "a lighthouse at dawn" .* is damaged: /);
    expect(messages[1]).toBe(messages[0]);
  });

  it("makes a dev server's variants of a 4K original there too, the same bytes as in the server's own process", { timeout: 120_000 }, async () => {
    const root = await reliabilityProject(importing(ID));
    const options = { apiKey: FAKE_API_KEY, apiUrl: emulator.url };
    emulator.reset();
    // Stored by a build; the dev server then renders each variant a browser asks for, one at a time.
    expect((await viteBuild(root, options)).error).toBeUndefined();
    await until(() => (renderProcesses().length === 0 ? true : undefined));

    /** Each variant's bytes as a dev server on an empty derived cache serves them, and whether a render process ran meanwhile. */
    const served = async () => {
      await rm(cacheDir(root), { recursive: true, force: true });
      const server = await createServer({
        root,
        configFile: false,
        logLevel: "silent",
        server: { port: 0, host: "127.0.0.1", ws: false },
        plugins: [imagegen({ ...options, strict: true })],
      });
      const seen = new Set<number>();
      const watch = setInterval(() => {
        for (const { pid } of renderProcesses()) seen.add(pid);
      }, 20);
      try {
        await server.listen();
        const base = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
        const main = await (await fetch(`${base}/src/main.js`)).text();
        const [moduleId] = [...main.matchAll(/from\s+"(\/@id\/__x00__imagegen:[^"]+)"/g)].map((match) => match[1]!);
        const code = await (await fetch(`${base}${moduleId}`)).text();
        const urls = [...new Set(code.match(/\/@imagegen\/[^"'\s`]+\.(?:avif|webp)/g))].sort();
        const bytes: string[] = [];
        for (const url of urls) {
          const response = await fetch(`${base}${url}`);
          expect(response.status, url).toBe(200);
          bytes.push(`${url} ${Buffer.from(await response.arrayBuffer()).toString("base64")}`);
        }
        return { bytes, renderProcesses: seen.size };
      } finally {
        clearInterval(watch);
        await server.close();
      }
    };

    const apart = await served();
    expect(apart.bytes).toHaveLength(4);
    expect(apart.renderProcesses).toBe(1);
    await until(() => (renderProcesses().length === 0 ? true : undefined));
    process.env["IMAGEGEN_RENDER_PROCESS"] = "0";
    try {
      const here = await served();
      expect(here.renderProcesses).toBe(0);
      expect(here.bytes).toEqual(apart.bytes);
    } finally {
      delete process.env["IMAGEGEN_RENDER_PROCESS"];
    }
    expect(emulator.requests).toHaveLength(1);
  });

  it("lets a process that rendered a 4K original exit on its own, and ends with it", { timeout: 120_000 }, async () => {
    // A bare script that renders a 4K original and returns: nothing it started may keep it running.
    const script = `
      import sharp from "sharp";
      import { renderVariants } from "@imagegen/core";
      const raw = Buffer.alloc(3200 * 3000 * 3, 90);
      const png = await sharp(raw, { raw: { width: 3200, height: 3000, channels: 3 } }).png().toBuffer();
      const rendition = await renderVariants(png, { widths: [64], formats: ["webp"], placeholder: "none", fit: "cover" });
      console.log(rendition.variants.length, rendition.width);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: path.join(import.meta.dirname, "..", "packages", "core") });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    // The render process was started (a grandchild of this one while the script runs).
    const grandchildren = new Set<number>();
    const watch = setInterval(() => {
      for (const { pid } of renderProcesses(child.pid)) grandchildren.add(pid);
    }, 20);
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    clearInterval(watch);
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toBe("1 64");
    expect(grandchildren.size).toBe(1);
    // It ended with its parent.
    const [grandchild] = grandchildren;
    await until(() => {
      try {
        readFileSync(`/proc/${grandchild}/cmdline`);
        return undefined;
      } catch {
        return true;
      }
    });
  });
});
