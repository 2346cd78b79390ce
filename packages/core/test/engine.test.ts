import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { resolveOptions } from "../src/project/config.js";
import { Engine, MissingOriginalError } from "../src/engine.js";
import type { ImagegenOptions } from "../src/project/options.js";
import { parseGenId } from "../src/spec/parse-gen-id.js";
import type { GenerationRequest, Provider } from "../src/generate/provider.js";
import { resolveSpec } from "../src/spec/resolve-spec.js";
import { lockEntryFor, updateLockfile } from "../src/store/lockfile.js";
import { Store } from "../src/store/store.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "imagegen-engine-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A custom provider that paints a solid image and remembers every request and the peak of parallel calls. */
function solidProvider(delayMs = 0) {
  const requests: GenerationRequest[] = [];
  let running = 0;
  let peak = 0;
  const provider: Provider = {
    id: "solid",
    async generate(request, { signal }) {
      requests.push(request);
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      running--;
      signal.throwIfAborted();
      const bytes = await sharp({ create: { width: 256, height: 192, channels: 3, background: "#3a7" } }).png().toBuffer();
      return { bytes, recordId: `record-${requests.length}` };
    },
  };
  return { provider, requests, peak: () => peak };
}

const quiet = { info() {}, warn() {} };

async function engineWith(options: ImagegenOptions, env: NodeJS.ProcessEnv = {}) {
  return new Engine(await resolveOptions({ root, configFile: false, logger: quiet, ...options }, env));
}

function spec(engine: Engine, id: string) {
  return resolveSpec(parseGenId(id, join(root, "src/main.ts")), { ...engine.options, source: { file: join(root, "src/main.ts"), id } });
}

describe("Engine", () => {
  it("generates each original once however many callers ask, and stores and locks it", async () => {
    const solid = solidProvider(20);
    const engine = await engineWith({ provider: solid.provider });
    const results = await Promise.all([
      engine.resolveImage(spec(engine, "gen:a fox?w=128&format=webp")),
      engine.resolveImage(spec(engine, "gen:a fox?w=64;128&format=jpeg")),
      engine.resolveImage(spec(engine, "gen:a fox?w=128&format=webp")),
    ]);
    expect(solid.requests).toHaveLength(1);
    expect(results[0]!.original.key).toBe(results[1]!.original.key);
    expect(results[1]!.rendition.variants.map((v) => `${v.format} ${v.width}x${v.height}`)).toEqual(["jpeg 64x48", "jpeg 128x96"]);

    const key = results[0]!.original.key;
    expect((await readdir(join(root, ".imagegen"))).sort()).toEqual([`${key}.json`, `${key}.png`]);
    const lock = JSON.parse(await readFile(join(root, "imagegen.lock.json"), "utf8"));
    expect(lock.images[key]).toMatchObject({ prompt: "a fox", size: "1K", temperature: 1, topP: 0.95, width: 256, height: 192 });

    // A new engine (a new build) reads the store and asks the provider nothing.
    const again = await engineWith({ provider: solid.provider });
    await again.resolveImage(spec(again, "gen:a fox?w=128&format=webp"));
    expect(solid.requests).toHaveLength(1);
    expect(again.stats).toMatchObject({ cached: 1, generated: 0, rendered: 0 });
  });

  it("bounds concurrent generations by `concurrency`", async () => {
    const solid = solidProvider(50);
    const engine = await engineWith({ provider: solid.provider, concurrency: 2 });
    await Promise.all(["a", "b", "c", "d", "e"].map((p) => engine.resolveOriginal(spec(engine, `gen:${p}`))));
    expect(solid.requests).toHaveLength(5);
    expect(solid.peak()).toBe(2);
  });

  it("starts the next generation once the API has made an image, while that image downloads, with `concurrency` at the API", async () => {
    // A provider like onemin's: the API answers (paid), then the download takes a while.
    const events: string[] = [];
    let atTheApi = 0;
    let peakAtTheApi = 0;
    let inFlight = 0;
    let peakInFlight = 0;
    const provider: Provider = {
      id: "two-step",
      async generate(request, { paid }) {
        inFlight++;
        peakInFlight = Math.max(peakInFlight, inFlight);
        atTheApi++;
        peakAtTheApi = Math.max(peakAtTheApi, atTheApi);
        events.push(`request ${request.prompt}`);
        await new Promise((resolve) => setTimeout(resolve, 30));
        atTheApi--;
        paid?.();
        await new Promise((resolve) => setTimeout(resolve, 120));
        events.push(`downloaded ${request.prompt}`);
        inFlight--;
        return sharp({ create: { width: 64, height: 64, channels: 3, background: "#357" } }).png().toBuffer();
      },
    };
    const engine = await engineWith({ provider, concurrency: 2 });
    await Promise.all(["a", "b", "c", "d", "e", "f", "g", "h"].map((p) => engine.resolveOriginal(spec(engine, `gen:${p}`))));
    expect(engine.stats.generated).toBe(8);
    expect(peakAtTheApi).toBe(2);
    // Before any image finished downloading, four requests went out: two at the API, then two more
    // once those two were made; never more than twice `concurrency` in flight.
    const firstDownload = events.findIndex((event) => event.startsWith("downloaded"));
    expect(events.slice(0, firstDownload).filter((event) => event.startsWith("request"))).toHaveLength(4);
    expect(peakInFlight).toBe(4);
  });

  it("refuses to start more paid generations than maxGenerations", async () => {
    const solid = solidProvider();
    const engine = await engineWith({ provider: solid.provider, maxGenerations: 1 });
    await engine.resolveOriginal(spec(engine, "gen:first"));
    await expect(engine.resolveOriginal(spec(engine, "gen:second"))).rejects.toThrow(
      /Not generating "second" \(.*main\.ts \(import "gen:second"\)\): this run has reached maxGenerations \(1\)/,
    );
    expect(solid.requests).toHaveLength(1);
  });

  it("in frozen mode never calls the provider and names the missing prompt and its import", async () => {
    const solid = solidProvider();
    const engine = await engineWith({ provider: solid.provider, frozen: true });
    const error = await engine.resolveOriginal(spec(engine, "gen:a lighthouse")).catch((e) => e);
    expect(error).toBeInstanceOf(MissingOriginalError);
    expect(error.message).toMatch(/^No stored original for "a lighthouse" \(.*src\/main\.ts \(import "gen:a lighthouse"\), key [0-9a-f]{20}\) and imagegen is frozen/);
    expect(solid.requests).toHaveLength(0);
  });

  it("frozen and placeholder builds use a stored original the lock lacks, and write neither the lock nor the store", async () => {
    const solid = solidProvider();
    const first = await engineWith({ provider: solid.provider });
    const { key } = await first.resolveOriginal(spec(first, "gen:a lighthouse"));
    await rm(join(root, "imagegen.lock.json"));
    const before = (await readdir(join(root, ".imagegen"))).sort();

    for (const options of [{ provider: solid.provider, frozen: true }, { provider: "placeholder" as const }, {}]) {
      const engine = await engineWith(options);
      const image = await engine.resolveImage(spec(engine, "gen:a lighthouse?w=64&format=webp"));
      expect(image.original.key).toBe(key);
      expect(await readdir(root), JSON.stringify(options)).not.toContain("imagegen.lock.json");
      expect((await readdir(join(root, ".imagegen"))).sort()).toEqual(before);
    }
    expect(solid.requests).toHaveLength(1);
  });

  it("accepts a custom provider that resolves with raw bytes: a Uint8Array or a Buffer", async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: "#123" } }).png().toBuffer();
    const raw: Provider = { id: "raw", generate: async (request) => (request.prompt === "a buffer" ? png : new Uint8Array(png)) };
    const engine = await engineWith({ provider: raw });
    const [buffer, bytes] = await Promise.all([
      engine.resolveImage(spec(engine, "gen:a buffer?format=png")),
      engine.resolveImage(spec(engine, "gen:bytes?format=png")),
    ]);
    expect([buffer.original.width, buffer.original.height, bytes.original.width]).toEqual([40, 30, 40]);
    expect(buffer.original.stored && bytes.original.stored).toBe(true);
  });

  it.each([
    ["a string", "a string"],
    [{ data: "…" }, 'an object with "data"'],
    [undefined, "undefined"],
  ])("refuses a custom provider that resolves with %j, in one line naming it, without retrying", async (value, said) => {
    let calls = 0;
    const odd: Provider = {
      id: "odd-relay",
      generate: async () => {
        calls++;
        return value as never;
      },
    };
    const engine = await engineWith({ provider: odd });
    const error = await engine.resolveOriginal(spec(engine, "gen:a fox")).catch((e: Error) => e);
    expect(error.message).toBe(
      `Could not generate "a fox" (${join(root, "src/main.ts")} (import "gen:a fox")) with odd-relay: the provider "odd-relay" resolved with ${said}; ` +
        "generate() must resolve with a Uint8Array, a Buffer or { bytes: Uint8Array, recordId?: string }",
    );
    expect(error.name).toBe("ImagegenError");
    expect(calls).toBe(1);
    // Nothing stored, and not even an empty store folder left behind.
    expect(existsSync(join(root, ".imagegen"))).toBe(false);
  });

  it("reads frozen from IMAGEGEN_FROZEN=1 and strict from CI", async () => {
    expect((await engineWith({}, { IMAGEGEN_FROZEN: "1" })).options.frozen).toBe(true);
    expect((await engineWith({}, { CI: "true" })).options.strict).toBe(true);
    expect((await engineWith({}, { CI: "false" })).options.strict).toBe(false);
  });

  it("without a key, renders placeholders of the exact size, warns once, and writes no store or lock", async () => {
    const warnings: string[] = [];
    const engine = new Engine(
      await resolveOptions({ root, configFile: false, logger: { info() {}, warn: (m) => warnings.push(m) } }, {}),
    );
    expect(engine.options.provider.id).toBe("placeholder");
    const [a, b] = await Promise.all([
      engine.resolveImage(spec(engine, "gen:a fox?size=2K&format=png")),
      engine.resolveImage(spec(engine, "gen:a hare?format=png")),
    ]);
    expect([a!.original.width, a!.original.height, b!.original.width]).toEqual([2048, 2048, 1024]);
    expect(await sharp(a!.rendition.variants[0]!.bytes).metadata()).toMatchObject({ width: 2048, height: 2048, format: "png" });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ONEMIN_API_KEY is not set/);
    expect(await readdir(root)).not.toContain(".imagegen");
    expect(await readdir(root)).not.toContain("imagegen.lock.json");
  });

  it("in strict mode without a key, a missing original is an error, not a placeholder", async () => {
    const engine = await engineWith({}, { CI: "1" });
    await expect(engine.resolveOriginal(spec(engine, "gen:a fox"))).rejects.toThrow(
      /No stored original for "a fox" .* and no API key: set ONEMIN_API_KEY/,
    );
  });

  it("refuses a lock that pins an original the store lacks, naming the fix, and pays nothing", async () => {
    const first = solidProvider();
    const engine = await engineWith({ provider: first.provider });
    const { key } = await engine.resolveOriginal(spec(engine, "gen:a fox"));
    const lockPath = join(root, "imagegen.lock.json");
    const lock = JSON.parse(await readFile(lockPath, "utf8"));
    lock.images[key].sha256 = "0".repeat(64);
    await writeFile(lockPath, JSON.stringify(lock));

    const again = await engineWith({ provider: first.provider });
    await expect(again.resolveOriginal(spec(again, "gen:a fox"))).rejects.toThrow(
      new RegExp(`The original of "a fox" .* is locked in imagegen\\.lock\\.json \\(sha256 000000000000…\\) but is not in \\.imagegen/ \\(\\.imagegen/ holds another original of this key\\); .*imagegen generate --force ${key}`),
    );
    expect(first.requests).toHaveLength(1);
  });

  it("reads the lock again before paying: an entry another process wrote meanwhile is used, not paid for", async () => {
    const solid = paintingProvider();
    const engine = await engineWith({ provider: solid.provider });
    // The lock is read once, for another image, as a long-running dev server has.
    await engine.resolveOriginal(spec(engine, "gen:a heron"));
    // Another process (a teammate's work, brought by a git pull) stores and locks "a fox".
    const teammate = await engineWith({ provider: solid.provider });
    const theirs = await teammate.resolveOriginal(spec(teammate, "gen:a fox"));
    expect(solid.requests).toHaveLength(2);

    const mine = await engine.resolveOriginal(spec(engine, "gen:a fox"));
    expect(solid.requests).toHaveLength(2);
    expect(mine.sha256).toBe(theirs.sha256);
  });

  it("never replaces a pinned entry by accident: an original paid for while the lock gained another stays a candidate", async () => {
    let open!: () => void;
    const slow = paintingProvider(new Promise<void>((resolve) => (open = resolve)));
    const engine = await engineWith({ provider: slow.provider });
    const pending = engine.resolveOriginal(spec(engine, "gen:a fox"));
    await vi.waitFor(() => expect(slow.requests).toHaveLength(1));
    // While the request is out, a git pull brings a teammate's original of the same key, stored and locked.
    const fox = spec(engine, "gen:a fox");
    const bytes = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#c33" } }).png().toBuffer();
    const theirs = await new Store(join(root, ".imagegen")).put(fox.generation, { bytes }, "painting");
    await updateLockfile(join(root, "imagegen.lock.json"), (lock) => {
      lock.images[theirs.key] = lockEntryFor(theirs);
    });
    open();
    const mine = await pending;

    expect(mine.sha256).toBe(theirs.sha256);
    const lock = JSON.parse(await readFile(join(root, "imagegen.lock.json"), "utf8"));
    expect(lock.images[mine.key].sha256).toBe(theirs.sha256);
    // What was paid for is kept: two candidates of the key are in the store.
    expect(await engine.store.candidates(mine.key)).toHaveLength(2);
  });

  it("re-rolls a pinned image: a new original is pinned, the old one stays a candidate", async () => {
    const solid = paintingProvider();
    const engine = await engineWith({ provider: solid.provider });
    const first = await engine.resolveOriginal(spec(engine, "gen:a fox"));
    const second = await engine.reroll(spec(engine, "gen:a fox"));
    expect(solid.requests).toHaveLength(2);
    expect(second.sha256).not.toBe(first.sha256);
    const lock = JSON.parse(await readFile(join(root, "imagegen.lock.json"), "utf8"));
    expect(lock.images[first.key].sha256).toBe(second.sha256);
    expect((await engine.store.candidates(first.key)).map((meta) => meta.sha256)).toEqual([first.sha256, second.sha256]);
    // A later build takes the pinned one.
    const again = await engineWith({ provider: solid.provider });
    expect((await again.resolveOriginal(spec(again, "gen:a fox"))).sha256).toBe(second.sha256);
    expect(solid.requests).toHaveLength(2);
  });

  it("keeps in the lock what is in use and what it resolved, and nothing else; the originals stay", async () => {
    const solid = paintingProvider();
    const engine = await engineWith({ provider: solid.provider });
    const fox = await engine.resolveOriginal(spec(engine, "gen:a fox"));
    const heron = await engine.resolveOriginal(spec(engine, "gen:a heron"));
    const later = await engineWith({ provider: solid.provider });
    const owl = await later.resolveOriginal(spec(later, "gen:an owl"));
    expect(await later.retainInLock(new Set([fox.key]))).toEqual([heron.key]);
    const lock = JSON.parse(await readFile(join(root, "imagegen.lock.json"), "utf8"));
    expect(Object.keys(lock.images).sort()).toEqual([fox.key, owl.key].sort());
    expect(await later.store.keys()).toEqual([fox.key, heron.key, owl.key].sort());
    // The same prompt again finds it in the store: nothing is paid.
    const back = await engineWith({ provider: solid.provider });
    expect((await back.resolveOriginal(spec(back, "gen:a heron"))).sha256).toBe(heron.sha256);
    expect(solid.requests).toHaveLength(3);
  });
});

/** A provider that paints each request a different colour (or `colour`), after `gate` opens. */
function paintingProvider(gate: Promise<void> = Promise.resolve(), colour?: string) {
  const requests: GenerationRequest[] = [];
  const provider: Provider = {
    id: "painting",
    async generate(request) {
      requests.push(request);
      await gate;
      const background = colour ?? `#${(requests.length * 2_654_435_761 % 0xffffff).toString(16).padStart(6, "0")}`;
      const bytes = await sharp({ create: { width: 64, height: 64, channels: 3, background } }).png().toBuffer();
      return { bytes };
    },
  };
  return { provider, requests };
}
