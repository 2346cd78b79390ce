import { rm } from "node:fs/promises";
import path from "node:path";
import { Engine, parseGenId, resolveOptions, resolveSpec } from "@imagegen/core";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, copyFixture, listFiles } from "../support/fixture-project.js";
import { type S3Server, startS3Server } from "../support/s3-server.js";
import { type ThrottledLink, startThrottledLink } from "../support/throttled-link.js";

// A remote download must not hold the render pool (issue 23): a 4K original renders alone on
// every core, so while one downloads over a slow link it would hold every pipeline, and nothing
// else of the build could be encoded meanwhile.

let emulator: Emulator;
let s3: S3Server;
let link: ThrottledLink;
beforeAll(async () => {
  [emulator, s3] = await Promise.all([startEmulator({ apiKey: FAKE_API_KEY, grain: true }), startS3Server()]);
  link = await startThrottledLink(s3.endpoint, 4 * 1024 * 1024);
});
afterAll(async () => {
  await link?.close();
  await Promise.all([emulator?.close(), s3?.close()]);
});

describe("the render pool and remote downloads", () => {
  it("encodes what is here while a 4K original is still downloading", { timeout: 180_000 }, async () => {
    const root = await copyFixture("reliability");
    const env = s3.env({ IMAGEGEN_REMOTE: `${s3.remote}/slot` });
    const engineOf = async (extra: Record<string, string>) =>
      new Engine(await resolveOptions({ root, apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: { info() {}, warn() {} } }, { ...process.env, ...env, ...extra }));
    const specOf = (engine: Engine, id: string) =>
      resolveSpec(parseGenId(id, path.join(root, "src/main.js")), { ...engine.options, source: { file: path.join(root, "src/main.js"), id } });
    const big = "gen:a cliff at noon?size=4K&w=64&format=webp";
    const small = "gen:a pebble?w=64&format=webp";

    // A first machine makes the 4K original and shares it (not its rendition: none is uploaded here).
    const first = await engineOf({});
    await first.resolveOriginal(specOf(first, big));
    // This machine has the lock, not the original, and reaches the remote over a slow link.
    await rm(path.join(root, ".imagegen"), { recursive: true, force: true });
    const engine = await engineOf({ AWS_ENDPOINT_URL_S3: link.url, IMAGEGEN_REMOTE_WRITE: "0" });
    const order: string[] = [];
    const bigDone = engine.resolveImage(specOf(engine, big)).then(() => order.push("4K rendered"));
    // Let the 4K download start and take what it would take of the pool.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await engine.resolveImage(specOf(engine, small)).then(() => order.push("small rendered"));
    const storedWhenSmallWasDone = (await listFiles(path.join(root, ".imagegen"))).filter((file) => /^[0-9a-f]{20}\.png$/.test(file));
    await bigDone;
    expect(order).toEqual(["small rendered", "4K rendered"]);
    // The small image was encoded before the 4K original had arrived: one original stored then, the small one's.
    expect(storedWhenSmallWasDone).toHaveLength(1);
  });
});
