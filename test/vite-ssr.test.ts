import path from "node:path";
import { pathToFileURL } from "node:url";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import imagegen from "unplugin-imagegen/vite";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, captureLogger, copyFixture, listFiles } from "./support/fixture-project.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator?.close());

function buildSide(root: string, side: "client" | "server", ssrEmitAssets = false) {
  return build({
    root,
    configFile: false,
    logLevel: "silent",
    build: {
      outDir: `dist/${side}${ssrEmitAssets ? "-assets" : ""}`,
      modulePreload: { polyfill: false },
      ...(side === "server" ? { ssr: "src/entry-server.js", ssrEmitAssets } : {}),
    },
    plugins: [imagegen({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: captureLogger().logger, strict: true })],
  });
}

async function imagesIn(dir: string): Promise<string[]> {
  return (await listFiles(dir)).filter((file) => /\.(avif|webp)$/.test(file)).map((file) => file.split(path.sep).join("/"));
}

describe("vite client and SSR builds of one project", () => {
  it("name every image alike: the server renders URLs of the files the client build emitted", async () => {
    const root = await copyFixture("vite-ssr");
    emulator.reset();
    await buildSide(root, "client");
    expect(emulator.requests).toHaveLength(2);
    const clientImages = await imagesIn(path.join(root, "dist/client"));
    expect(clientImages).toHaveLength(6);

    // The SSR build (a separate plugin instance, as Vite runs it) pays nothing and emits no image by default.
    await buildSide(root, "server");
    expect(emulator.requests).toHaveLength(2);
    expect(await imagesIn(path.join(root, "dist/server"))).toEqual([]);

    const { render } = (await import(/* @vite-ignore */ pathToFileURL(path.join(root, "dist/server/entry-server.js")).href)) as {
      render(): string;
    };
    const html = render();
    const urls = [...html.matchAll(/(?:src|srcset)="([^" ]+)/g)].map((match) => match[1]!);
    expect(urls).toHaveLength(3);
    for (const url of urls) expect(clientImages).toContain(url.replace(/^\//, ""));

    // With ssrEmitAssets the server build emits the very same files.
    await buildSide(root, "server", true);
    expect(await imagesIn(path.join(root, "dist/server-assets"))).toEqual(clientImages);
  });
});
