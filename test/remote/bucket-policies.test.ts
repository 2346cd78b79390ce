import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { ImagegenPluginOptions } from "unplugin-imagegen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";
import { type S3Server, startS3Server } from "../support/s3-server.js";
import { importing, reliabilityProject } from "../reliability/support/project.js";
import { HARBOUR_MANIFEST, PREFIX, emittedImages, lockedSha as lockedShaOf, remoteBuild, wipe } from "./support.js";

// Real bucket policies and concurrent writers (issue 23), against s3rver behind a front that
// answers as S3 does: 403 for an absent object without s3:ListBucket, 409 for a raced write,
// 301 for a bucket of another region.

const MAIN = `${importing("gen:a red fox?w=64&format=webp", "gen:a grey heron?w=48&format=png")}import images from "./images.prompts.yaml";\nconsole.log(images);\n`;
const MANIFEST = HARBOUR_MANIFEST;

let emulator: Emulator;
let s3: S3Server;
beforeAll(async () => {
  [emulator, s3] = await Promise.all([startEmulator({ apiKey: FAKE_API_KEY }), startS3Server({ prefix: PREFIX })]);
});
afterAll(async () => {
  await Promise.all([emulator?.close(), s3?.close()]);
});

const remoteOf = (name: string) => s3.env({ IMAGEGEN_REMOTE: `s3://${s3.bucket}/${PREFIX}/${name}` });

const build = (root: string, env: Record<string, string | undefined>, options: ImagegenPluginOptions = {}) => remoteBuild(root, emulator.url, env, options);
const emitted = (output: Awaited<ReturnType<typeof build>>["output"]) => [...emittedImages(output).keys()].sort();
const lockedSha = async (root: string, prompt: string) => (await lockedShaOf(root, prompt))!;

describe("real bucket policies", () => {
  it("a policy without s3:ListBucket (403 for what is absent): builds, sharing, check and push behave as with 404", { timeout: 120_000 }, async () => {
    const root = await reliabilityProject(MAIN, { "src/images.prompts.yaml": MANIFEST });
    const env = remoteOf("no-list");
    s3.denyMissing(true);
    try {
      emulator.reset();
      s3.reset();
      const first = await build(root, env);
      expect(first.message).toBeUndefined();
      expect(emulator.requests).toHaveLength(3);
      // Every miss read as a miss: three originals, their key indexes and their renditions uploaded.
      const objects = await s3.list(`${PREFIX}/no-list/`);
      expect(objects.filter((key) => key.includes("/originals/"))).toHaveLength(6);
      expect(objects.filter((key) => key.includes("/keys/"))).toHaveLength(3);
      expect(objects.filter((key) => /\/derived\/[0-9a-f]{32}\.rendition$/.test(key))).toHaveLength(3);
      // And the lock's build pack: the three renditions in one object.
      expect(objects.filter((key) => /\/derived\/packs\/[0-9a-f]{32}\.pack$/.test(key))).toHaveLength(1);
      expect(s3.requests.some((request) => request.status === 403)).toBe(true);
      // Said once, naming the permission; nothing was switched off.
      expect(first.log.filter((line) => line.includes("s3:ListBucket"))).toHaveLength(1);
      expect(first.log.join("\n")).not.toMatch(/for the rest of this run/);

      await wipe(root);
      emulator.reset();
      const second = await build(root, { ...env, IMAGEGEN_REMOTE_WRITE: "no" });
      expect(second.message).toBeUndefined();
      expect(emulator.requests).toHaveLength(0);
      expect(emitted(second.output)).toEqual(emitted(first.output));
      expect(s3.writes().filter((request) => request.method === "PUT" && request.status === 200)).toHaveLength(13);

      // An image made where the remote may not be written: check names it, push sends it.
      const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { cwd: root, apiUrl: emulator.url, env: { ...env, ...extra } });
      await import("node:fs/promises").then((fs) => fs.appendFile(path.join(root, "src/main.js"), 'import owl from "gen:an owl?w=64&format=webp";\nconsole.log(owl);\n'));
      expect((await cli(["generate"], { IMAGEGEN_REMOTE_WRITE: "off" })).code).toBe(0);
      const check = await cli(["check"]);
      expect(check.code).toBe(1);
      expect(check.stdout.match(/^not uploaded .*"an owl"/gm)).toHaveLength(1);
      expect(check.stdout).not.toMatch(/^error /m);
      const push = await cli(["push"]);
      expect(push.code, push.stderr).toBe(0);
      expect(push.stdout).toContain("1 uploaded, 3 already there, 0 failed");
      expect((await cli(["check"])).code).toBe(0);
    } finally {
      s3.denyMissing(false);
    }
  });

  it("a write that races another (409 ConditionalRequestConflict) is tried again", { timeout: 120_000 }, async () => {
    const root = await reliabilityProject(importing("gen:a kingfisher?w=64&format=webp"));
    s3.reset();
    s3.conflict(2, "/originals/");
    const built = await build(root, remoteOf("race"));
    expect(built.message).toBeUndefined();
    const puts = s3.requests.filter((request) => request.method === "PUT" && request.key.includes("/race/originals/"));
    expect(puts.map((request) => request.status)).toEqual([409, 409, 200, 200]);
    expect(built.log.join("\n")).not.toMatch(/not uploaded/);
  });

  it("push --repair replaces an original whose bytes on the remote are wrong; check and push name the fix", { timeout: 120_000 }, async () => {
    const root = await reliabilityProject(MAIN, { "src/images.prompts.yaml": MANIFEST });
    const env = remoteOf("repair");
    const cli = (...args: string[]) => runCli(args, { cwd: root, apiUrl: emulator.url, env });
    expect((await build(root, env)).message).toBeUndefined();
    const fox = await lockedSha(root, "a red fox");
    const object = `${PREFIX}/repair/originals/${fox}.png`;
    const good = (await s3.read(object))!;

    // Bytes of the same length, damaged: only downloading and hashing them tells.
    const damaged = Buffer.from(good);
    damaged[damaged.length - 20] ^= 0xff;
    await s3.write(object, damaged);
    expect((await cli("check")).code).toBe(0);
    expect((await cli("push")).stdout).toContain("0 uploaded, 3 already there, 0 failed");
    const repaired = await cli("push", "--repair");
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toContain("0 uploaded, 2 already there, 1 repaired, 0 failed");
    expect(Buffer.compare((await s3.read(object))!, good)).toBe(0);

    // Bytes of another length: check and push see it from the size alone, and name --repair.
    await s3.write(object, good.subarray(0, good.length - 100));
    const check = await cli("check");
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^error +"a red fox" key [0-9a-f]{20}: its original on s3:\/\/.* has bytes of the wrong size; `imagegen push --repair` replaces it$/m);
    const push = await cli("push");
    expect(push.code).toBe(1);
    expect(push.stderr).toContain("`imagegen push --repair` replaces it");
    expect((await cli("push", "--repair")).code).toBe(0);
    expect((await cli("check")).code).toBe(0);

    // The JSON there, the bytes gone, and no other copy: the error says where the fix comes from.
    await s3.remove(object);
    await wipe(root);
    for (const derived of await s3.list(`${PREFIX}/repair/derived/`)) await s3.remove(derived);
    const broken = await build(root, { ...env, IMAGEGEN_REMOTE_WRITE: "0" });
    expect(broken.message).toContain(`s3://${s3.bucket}/${object} is missing but`);
    expect(broken.message).toContain("`imagegen push --repair`");
  });

  it("a bucket in another region: the error names the region to set", { timeout: 60_000 }, async () => {
    const root = await reliabilityProject(importing("gen:a lighthouse?w=64&format=webp"));
    s3.movedTo("ap-south-1");
    try {
      const built = await build(root, remoteOf("region"));
      expect(built.message).toMatch(/HTTP 301 PermanentRedirect \(the bucket is in ap-south-1: set AWS_REGION=ap-south-1\)/);
      expect(emulator.requests.filter((request) => JSON.stringify(request.body).includes("a lighthouse"))).toHaveLength(0);
    } finally {
      s3.movedTo(undefined);
    }
  });
});
