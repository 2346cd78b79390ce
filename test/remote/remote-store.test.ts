import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { ImagegenPluginOptions } from "unplugin-imagegen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";
import { type S3Server, startS3Server } from "../support/s3-server.js";
import { importing, reliabilityProject } from "../reliability/support/project.js";
import { HARBOUR_MANIFEST, PREFIX, emittedImages, lockedSha as lockedShaOf, remoteBuild, wipe } from "./support.js";

const lockedSha = async (root: string, prompt: string) => (await lockedShaOf(root, prompt))!;

// SPEC §10 against a real S3-compatible server on loopback (s3rver, fronted by
// test/support/s3-server.ts, which checks SigV4 signatures and honours If-None-Match as S3 does).

const MAIN = `${importing("gen:a red fox?w=64;128&format=avif;webp", "gen:a grey heron?w=64&format=png")}import images from "./images.prompts.yaml";\nconsole.log(images);\n`;
const MANIFEST = HARBOUR_MANIFEST;

let emulator: Emulator;
let s3: S3Server;
beforeAll(async () => {
  [emulator, s3] = await Promise.all([startEmulator({ apiKey: FAKE_API_KEY }), startS3Server({ prefix: PREFIX })]);
});
afterAll(async () => {
  await Promise.all([emulator?.close(), s3?.close()]);
});

async function project(): Promise<string> {
  return reliabilityProject(MAIN, { "src/images.prompts.yaml": MANIFEST });
}

const build = (root: string, env: Record<string, string | undefined>, options: ImagegenPluginOptions = {}) => remoteBuild(root, emulator.url, env, options);
const emitted = emittedImages;

async function storedOriginals(root: string): Promise<string[]> {
  return (await readdir(path.join(root, ".imagegen")).catch(() => [])).filter((name) => /\.(png|jpg|webp)$/.test(name));
}

describe("the remote store", () => {
  it("lets a wiped, read-only CI machine build with 0 API requests and 0 remote writes, and refuses a corrupt or missing original by name", { timeout: 120_000 }, async () => {
    const root = await project();
    const remote = s3.env({ IMAGEGEN_REMOTE: `s3://${s3.bucket}/${PREFIX}/done-when` });
    const readOnly = { ...remote, IMAGEGEN_REMOTE_WRITE: "0" };
    emulator.reset();
    s3.reset();

    // 1. A main-branch build: pays for three originals and shares them, with their renditions.
    const first = await build(root, remote);
    expect(first.message).toBeUndefined();
    expect(emulator.requests).toHaveLength(3);
    const objects = await s3.list(`${PREFIX}/done-when/`);
    expect(objects.filter((key) => key.includes("/originals/"))).toHaveLength(6);
    expect(objects.filter((key) => /\/derived\/[0-9a-f]{32}\.rendition$/.test(key))).toHaveLength(3);
    expect(s3.requests.every((request) => request.signed && request.status !== 403)).toBe(true);
    // Write-once: every upload asked for it.
    expect(s3.writes().every((request) => request.method === "PUT")).toBe(true);

    // 2. Wiped and built again with read-only settings: nothing paid, nothing written, the same files.
    await wipe(root);
    emulator.reset();
    s3.reset();
    const second = await build(root, readOnly);
    expect(second.message).toBeUndefined();
    expect(emulator.requests).toHaveLength(0);
    expect(s3.writes()).toEqual([]);
    expect(emitted(second.output)).toEqual(emitted(first.output));
    // The renditions came down encoded; no original was needed, so none was downloaded.
    expect(await storedOriginals(root)).toEqual([]);

    // 3. A corrupt remote original (and no rendition to spare it): the build fails naming it; nothing is paid.
    await wipe(root);
    for (const key of objects.filter((name) => name.includes("/derived/"))) await s3.remove(key);
    const foxSha = await lockedSha(root, "a red fox");
    const heron = (await s3.read(`${PREFIX}/done-when/originals/${await lockedSha(root, "a grey heron")}.png`))!;
    await s3.write(`${PREFIX}/done-when/originals/${foxSha}.png`, heron);
    emulator.reset();
    s3.reset();
    const corrupt = await build(root, readOnly);
    expect(corrupt.message).toContain('"a red fox"');
    expect(corrupt.message).toContain(`s3://${s3.bucket}/${PREFIX}/done-when/originals/${foxSha}.png does not match its sha256`);
    expect(corrupt.message).toContain("corrupt");
    expect(emulator.requests).toHaveLength(0);
    expect(s3.writes()).toEqual([]);

    // 4. A locked original missing everywhere: an error naming --force, with or without a remote; nothing is paid.
    await s3.remove(`${PREFIX}/done-when/originals/${foxSha}.json`);
    await s3.remove(`${PREFIX}/done-when/originals/${foxSha}.png`);
    for (const env of [readOnly, { IMAGEGEN_REMOTE: undefined }]) {
      await wipe(root);
      emulator.reset();
      const missing = await build(root, env);
      const messages = missing.error?.errors?.map((error) => error.message).join("\n") ?? missing.message;
      // With the remote only the fox is missing. Without it every locked image is, and which one the
      // bundler reports first depends on which module loads first: any of them will do.
      if (env.IMAGEGEN_REMOTE) expect(messages).toContain('The original of "a red fox"');
      else expect(messages).toMatch(/The original of "[^"]+"/);
      expect(missing.message).toContain("imagegen generate --force");
      expect(missing.message).toMatch(env.IMAGEGEN_REMOTE ? /neither in \.imagegen\/ nor in s3:\/\// : /is not in \.imagegen\//);
      expect(emulator.requests).toHaveLength(0);
    }
    // The lock still pins the image that was paid for.
    expect(await lockedSha(root, "a red fox")).toBe(foxSha);
  });

  it("reads a lock's renditions in one request from the build pack a writable build left, and falls back to one request each", { timeout: 120_000 }, async () => {
    const root = await project();
    const prefix = `${PREFIX}/pack`;
    const remote = s3.env({ IMAGEGEN_REMOTE: `s3://${s3.bucket}/${prefix}` });
    const readOnly = { ...remote, IMAGEGEN_REMOTE_WRITE: "0" };
    const packs = async () => (await s3.list(`${prefix}/derived/packs/`)).filter((key) => key.endsWith(".pack"));
    // s3.requests keeps every request: each step looks at those made since it began.
    let mark = 0;
    const since = () => s3.requests.slice(mark);
    const gets = (pattern: RegExp) => since().filter((request) => request.method === "GET" && pattern.test(request.key));
    const RENDITION = /\/derived\/[0-9a-f]{32}\.rendition$/;
    const PACK = /\/derived\/packs\/[0-9a-f]{32}\.pack$/;

    // A main-branch build renders three renditions and leaves them in the pack of its lock.
    const first = await build(root, remote);
    expect(first.message).toBeUndefined();
    expect(await packs()).toHaveLength(1);

    // Built again, warm, on the same machine: the pack is not read nor written again.
    mark = s3.requests.length;
    expect((await build(root, remote)).message).toBeUndefined();
    expect(since().filter((request) => request.key.includes("/derived/"))).toEqual([]);

    // A cold CI machine with the same lock: every rendition from one GET, none one by one.
    await wipe(root);
    mark = s3.requests.length;
    const cold = await build(root, readOnly);
    expect(cold.message).toBeUndefined();
    expect(emittedImages(cold.output)).toEqual(emittedImages(first.output));
    expect(gets(PACK)).toHaveLength(1);
    expect(gets(RENDITION)).toEqual([]);

    // A new image on a writable machine: a new lock, whose pack holds all four renditions.
    await writeFile(path.join(root, "src", "main.js"), `${MAIN}import owl from "gen:an owl?w=64&format=webp";\nconsole.log(owl);\n`);
    const grown = await build(root, remote);
    expect(grown.message).toBeUndefined();
    expect(await packs()).toHaveLength(2);
    await wipe(root);
    mark = s3.requests.length;
    const coldAgain = await build(root, readOnly);
    expect(emittedImages(coldAgain.output)).toEqual(emittedImages(grown.output));
    expect(gets(PACK)).toHaveLength(1);
    expect(gets(RENDITION)).toEqual([]);

    // A damaged pack is said once and read around: each rendition comes by itself.
    const newest = gets(PACK)[0]!.key;
    await s3.write(newest, Buffer.from("{\"version\":1,\"renditions\":[[\"x\",3]]}\nabc"));
    await wipe(root);
    mark = s3.requests.length;
    const damaged = await build(root, readOnly);
    expect(damaged.message).toBeUndefined();
    expect(emittedImages(damaged.output)).toEqual(emittedImages(grown.output));
    expect(damaged.log.filter((line) => line.includes("is not a pack of renditions whose variants match their sha256; its renditions are read one by one instead."))).toHaveLength(1);
    expect(gets(RENDITION)).toHaveLength(4);
  });

  it("push uploads what the remote lacks (write-once), pull fills an empty store, check reports what is not uploaded", { timeout: 120_000 }, async () => {
    const root = await project();
    const env = s3.env({ IMAGEGEN_REMOTE: `s3://${s3.bucket}/${PREFIX}/cli` });
    const cli = (args: string[], extra: Record<string, string | undefined> = {}) =>
      runCli(args, { cwd: root, apiUrl: emulator.url, env: { ...env, ...extra } });

    // Generated on a machine that may not write: stored and locked here, not in the remote.
    emulator.reset();
    const generated = await cli(["generate"], { IMAGEGEN_REMOTE_WRITE: "0" });
    expect(generated.code).toBe(0);
    expect(emulator.requests).toHaveLength(3);
    const unpushed = await cli(["check"]);
    expect(unpushed.code).toBe(1);
    expect(unpushed.stdout.match(/^not uploaded /gm)).toHaveLength(3);
    expect(unpushed.stdout).toContain("`imagegen push` uploads what is not uploaded");

    const readOnlyPush = await cli(["push"], { IMAGEGEN_REMOTE_WRITE: "0" });
    expect(readOnlyPush.code).toBe(2);
    expect(readOnlyPush.stderr).toContain("is read-only in this run");

    s3.reset();
    const pushed = await cli(["push", "--json"]);
    expect(pushed.code).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ ok: true, remote: `s3://${s3.bucket}/${PREFIX}/cli`, uploaded: 3, present: 0, failed: 0 });
    expect(pushed.stderr.match(/^\[\d\/3\] uploaded /gm)).toHaveLength(3);
    // Each original's bytes and JSON, and its key's index (keys/<key>.json).
    expect(s3.writes().filter((request) => request.method === "PUT")).toHaveLength(9);
    expect(s3.writes().filter((request) => /\/keys\/[0-9a-f]{20}\.json$/.test(request.key))).toHaveLength(3);

    // Write-once: bytes already there answer 412, which is success; only the missing JSON is written.
    const sha = await lockedSha(root, "a grey heron");
    await s3.remove(`${PREFIX}/cli/originals/${sha}.json`);
    s3.reset();
    const again = await cli(["push"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("1 uploaded, 2 already there, 0 failed");
    expect(s3.writes().map((request) => request.status).sort()).toEqual([200, 412]);

    // A fresh clone: the store is empty, check is clean (everything is in the remote), pull fills it.
    await wipe(root);
    const remoteOnly = await cli(["check"]);
    expect(remoteOnly.code).toBe(0);
    expect(remoteOnly.stdout).toContain("(3 only there)");
    emulator.reset();
    s3.reset();
    const pulled = await cli(["pull", "--json"]);
    expect(pulled.code).toBe(0);
    expect(JSON.parse(pulled.stdout)).toMatchObject({ ok: true, downloaded: 3, present: 0, failed: 0 });
    expect(s3.writes()).toEqual([]);
    expect(emulator.requests).toHaveLength(0);
    expect(await storedOriginals(root)).toHaveLength(3);
    const clean = await cli(["check"], { IMAGEGEN_REMOTE: undefined });
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain("Clean: 3 images in use");
    const nothing = await cli(["pull"]);
    expect(nothing.stdout).toContain("0 downloaded, 3 already stored, 0 failed");

    const noRemote = await cli(["pull"], { IMAGEGEN_REMOTE: undefined });
    expect(noRemote.code).toBe(2);
    expect(noRemote.stderr).toContain("needs a remote store");
  });

  it("retries 5xx, resets and timeouts; a remote that stays down fails naming it, and pays for nothing", { timeout: 120_000 }, async () => {
    const root = await project();
    const remote = s3.env({ IMAGEGEN_REMOTE: `s3://${s3.bucket}/${PREFIX}/faults` });
    const first = await build(root, remote);
    expect(first.message).toBeUndefined();
    await wipe(root);

    // Transient: a 503, a reset and a hung request, then the remote answers.
    s3.reset();
    s3.fail(1, "503");
    s3.fail(1, "reset");
    s3.fail(1, "hang");
    emulator.reset();
    const flaky = await build(root, { ...remote, IMAGEGEN_REMOTE_WRITE: "0" }, { timeoutMs: 1_000 });
    expect(flaky.message).toBeUndefined();
    expect(emulator.requests).toHaveLength(0);
    expect(s3.requests.filter((request) => request.status === 503)).toHaveLength(1);

    // Down for good: the build fails naming the remote, never a credential, and generates nothing.
    await wipe(root);
    s3.fail(100, "503");
    emulator.reset();
    const down = await build(root, { ...remote, IMAGEGEN_REMOTE_WRITE: "0" }, { attempts: 2 });
    s3.heal();
    expect(down.message).toContain(`s3://${s3.bucket}/${PREFIX}/faults/originals/`);
    expect(down.message).toContain(`at ${s3.endpoint}: HTTP 503 InternalError after 2 attempts`);
    expect(down.message).toContain("Nothing was generated: the lock pins this image.");
    expect(emulator.requests).toHaveLength(0);

    // A wrong secret: the server's signature check refuses it (403 is not retried), and the message says what to check.
    await wipe(root);
    s3.reset();
    const denied = await build(root, { ...remote, IMAGEGEN_REMOTE_WRITE: "0", AWS_SECRET_ACCESS_KEY: "not-the-secret-at-all" });
    expect(denied.message).toContain("HTTP 403 SignatureDoesNotMatch.");
    expect(denied.message).toContain("Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
    expect(denied.message).not.toContain("not-the-secret-at-all");
    expect(s3.requests.some((request) => request.status === 403)).toBe(true);
    expect(emulator.requests).toHaveLength(0);
  });

  it("rejects a remote that is not an s3:// URL, naming the option", async () => {
    const root = await project();
    await writeFile(path.join(root, "imagegen.config.mjs"), 'export default { remote: "https://bucket/prefix" };\n');
    const result = await runCli(["check"], { cwd: root });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Invalid option "remote"');
    expect(result.stderr).toContain("expected s3://bucket/prefix");
  });
});
