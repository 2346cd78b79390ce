import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { Browser } from "playwright-core";
import imagegen from "unplugin-imagegen/vite";
import { createServer } from "vite";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { launchChromium } from "../support/browser.js";
import { FAKE_API_KEY, copyFixture, listFiles } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";
import { type S3Server, startS3Server } from "../support/s3-server.js";
import { importing, reliabilityProject } from "../reliability/support/project.js";
import { PREFIX, emittedImages, lockOf, lockedSha, remoteBuild } from "./support.js";

// "Paid once per team, ever" (issue 21): the lock holds the images in use, and the stores, local
// and remote (s3rver on loopback, test/support/s3-server.ts), remember every original made for a key.

let emulator: Emulator;
let s3: S3Server;
let browser: Browser;
beforeAll(async () => {
  [emulator, s3, browser] = await Promise.all([startEmulator({ apiKey: FAKE_API_KEY }), startS3Server({ prefix: PREFIX }), launchChromium()]);
});
afterAll(async () => {
  await Promise.all([emulator?.close(), s3?.close(), browser?.close()]);
});

/** The environment of one team's runs: a remote of its own under the shared bucket. */
function teamEnv(name: string): Record<string, string> {
  return s3.env({ IMAGEGEN_REMOTE: `s3://${s3.bucket}/${PREFIX}/${name}` });
}

const shaOf = lockedSha;
const build = (root: string, env: Record<string, string | undefined>) => remoteBuild(root, emulator.url, env);
const emitted = (output: Awaited<ReturnType<typeof build>>["output"]) => Object.fromEntries(emittedImages(output));

const manifest = (prompt: string) => `images:\n  hero:\n    prompt: ${prompt}\n    w: [64]\n    format: [webp]\n`;

describe("paid once per team, ever", () => {
  it("an edited prompt unlocks the old image and check passes; a revert pays nothing, even on a machine that has only the remote", { timeout: 120_000 }, async () => {
    const root = await reliabilityProject('import images from "./site.prompts.yaml";\nconsole.log(images);\n', {
      "src/site.prompts.yaml": manifest("A lighthouse at dawn"),
    });
    const env = teamEnv("revert");
    const cli = (...args: string[]) => runCli(args, { cwd: root, apiUrl: emulator.url, env });
    emulator.reset();
    expect((await cli("generate")).code).toBe(0);
    const dawn = await shaOf(root, "A lighthouse at dawn");

    await writeFile(path.join(root, "src/site.prompts.yaml"), manifest("A lighthouse at dusk"));
    const edited = await cli("generate");
    expect(edited.code, edited.stderr).toBe(0);
    expect(emulator.requests).toHaveLength(2);
    expect(Object.values(await lockOf(root)).map((entry) => entry.prompt)).toEqual(["A lighthouse at dusk"]);
    const check = await cli("check");
    expect(check.code, check.stdout).toBe(0);

    // A wiped machine (the repository alone: the lock and the sources, no store) with the edit reverted.
    await rm(path.join(root, ".imagegen"), { recursive: true, force: true });
    await writeFile(path.join(root, "src/site.prompts.yaml"), manifest("A lighthouse at dawn"));
    const reverted = await cli("generate");
    expect(reverted.code, reverted.stderr).toBe(0);
    expect(emulator.requests).toHaveLength(2);
    expect(await shaOf(root, "A lighthouse at dawn")).toBe(dawn);
    expect((await cli("check")).code).toBe(0);
  });

  it("two clones add the same prompt on their own branches: the second pays nothing and gets the first one's image", { timeout: 120_000 }, async () => {
    const main = importing("gen:a kingfisher on a branch?w=64&format=webp");
    const [first, second] = await Promise.all([reliabilityProject(main), reliabilityProject(main)]);
    const env = teamEnv("clones");
    emulator.reset();
    const one = await build(first, env);
    expect(one.message).toBeUndefined();
    expect(emulator.requests).toHaveLength(1);

    const two = await build(second, env);
    expect(two.message).toBeUndefined();
    expect(emulator.requests).toHaveLength(1);
    expect(await shaOf(second, "a kingfisher on a branch")).toBe(await shaOf(first, "a kingfisher on a branch"));
    expect(emitted(two.output)).toEqual(emitted(one.output));
  });

  it("a running dev server takes a teammate's image that a git pull brings, paying nothing, and keeps its pin", { timeout: 120_000 }, async () => {
    const env = teamEnv("dev");
    const teammate = await reliabilityProject(`import src from "gen:a kingfisher on a branch?w=64&format=webp";\ndocument.querySelector("#app").innerHTML = \`<img id="bird" src="\${src}">\`;\n`);
    expect((await build(teammate, env)).message).toBeUndefined();
    const theirs = (await shaOf(teammate, "a kingfisher on a branch"))!;

    const mine = await reliabilityProject('document.querySelector("#app").textContent = "no images yet";\n');
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const server = await createServer({
      root: mine,
      configFile: false,
      logLevel: "silent",
      server: { port: 0, host: "127.0.0.1" },
      plugins: [imagegen({ root: mine, apiKey: FAKE_API_KEY, apiUrl: emulator.url, retryDelayMs: 5 })],
    });
    const page = await browser.newPage();
    try {
      await server.listen();
      await page.goto(`http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}/`, { waitUntil: "load" });
      await page.waitForFunction(() => document.querySelector("#app")?.textContent === "no images yet");
      emulator.reset();
      // git pull: the teammate's lock entry and the code that uses it arrive together.
      await cp(path.join(teammate, "imagegen.lock.json"), path.join(mine, "imagegen.lock.json"));
      await cp(path.join(teammate, "src/main.js"), path.join(mine, "src/main.js"));
      await page.waitForFunction(() => {
        const img = document.querySelector<HTMLImageElement>("#bird");
        return img !== null && img.complete && img.naturalWidth > 0 && !img.currentSrc.includes("/pending/");
      }, undefined, { timeout: 60_000 });
      expect(emulator.requests).toHaveLength(0);
      expect(await shaOf(mine, "a kingfisher on a branch")).toBe(theirs);
      // The teammate's original, downloaded from the remote and checked, is the one in the store.
      const stored = (await readdir(path.join(mine, ".imagegen"))).filter((name) => name.endsWith(".json"));
      const metas = await Promise.all(stored.map(async (name) => JSON.parse(await readFile(path.join(mine, ".imagegen", name), "utf8"))));
      expect(metas.map((meta) => meta.sha256)).toEqual([theirs]);
    } finally {
      await page.close();
      await server.close();
      vi.unstubAllEnvs();
    }
  });

  it("a re-roll whose upload is refused keeps the new original stored and locked, says it is not uploaded, and push sends it later", { timeout: 120_000 }, async () => {
    const root = await reliabilityProject('import images from "./site.prompts.yaml";\nconsole.log(images);\n', {
      "src/site.prompts.yaml": manifest("A lighthouse at dawn"),
    });
    const env = teamEnv("reroll");
    const cli = (...args: string[]) => runCli(args, { cwd: root, apiUrl: emulator.url, env });
    expect((await cli("generate")).code).toBe(0);
    const old = (await shaOf(root, "A lighthouse at dawn"))!;

    s3.refuseWrites(true);
    const before = emulator.requests.length;
    let reroll;
    try {
      reroll = await cli("generate", "--force", "hero");
    } finally {
      s3.refuseWrites(false);
    }
    expect(reroll.code).toBe(1);
    expect(emulator.requests.length - before).toBe(1);
    expect(reroll.stdout).toMatch(/^not uploaded: "A lighthouse at dawn": Could not write s3:\/\/.* HTTP 403 AccessDenied/m);
    const rerolled = (await shaOf(root, "A lighthouse at dawn"))!;
    expect(rerolled).not.toBe(old);
    // Both originals are in the store: the new one pinned, the old one kept as a candidate.
    const shas = await Promise.all(
      (await readdir(path.join(root, ".imagegen"))).filter((name) => name.endsWith(".json")).map(async (name) => JSON.parse(await readFile(path.join(root, ".imagegen", name), "utf8")).sha256),
    );
    expect(shas.sort()).toEqual([old, rerolled].sort());

    const check = await cli("check");
    expect(check.code).toBe(1);
    expect(check.stdout.split("\n").filter((line) => /^(missing|stale|unlocked|not uploaded|error) /.test(line))).toEqual([
      expect.stringMatching(/^not uploaded "A lighthouse at dawn" key [0-9a-f]{20} — src\/site\.prompts\.yaml:\d+:\d+: locked, but not in s3:\/\//),
    ]);
    const push = await cli("push");
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toContain("1 uploaded, 0 already there, 0 failed");
    expect((await cli("check")).code).toBe(0);
    expect(await s3.read(`${PREFIX}/reroll/originals/${rerolled}.json`)).toBeDefined();
    const index = JSON.parse((await s3.read(`${PREFIX}/reroll/keys/${Object.keys(await lockOf(root))[0]}.json`))!.toString("utf8"));
    expect(index.candidates.map((candidate: { sha256: string }) => candidate.sha256).sort()).toEqual([old, rerolled].sort());
  });

  it("builds a project whose store, lock and remote release 0.1 wrote, with no manual step", { timeout: 120_000 }, async () => {
    const fixture = path.join(path.dirname(path.dirname(new URL(import.meta.url).pathname)), "fixtures", "release-0.1");
    const remotePrefix = `${PREFIX}/release-0.1`;
    for (const file of await listFiles(path.join(fixture, "remote"))) {
      await s3.write(`${remotePrefix}/${file.split(path.sep).join("/")}`, await readFile(path.join(fixture, "remote", file)));
    }
    const env = s3.env({ IMAGEGEN_REMOTE: `s3://${s3.bucket}/${remotePrefix}` });
    const root = await copyFixture("release-0.1/project");
    const lockBefore = await readFile(path.join(root, "imagegen.lock.json"), "utf8");
    emulator.reset();

    // As it is: the store and lock of 0.1.
    const built = await build(root, env);
    expect(built.message).toBeUndefined();
    expect(Object.keys(emitted(built.output))).toHaveLength(3);
    expect(emulator.requests).toHaveLength(0);
    expect(await readFile(path.join(root, "imagegen.lock.json"), "utf8")).toBe(lockBefore);
    const check = await runCli(["check"], { cwd: root, apiUrl: emulator.url, env });
    expect(check.code, check.stdout).toBe(0);

    // A wiped machine: everything comes from the 0.1 remote.
    for (const dir of [".imagegen", "node_modules/.cache"]) await rm(path.join(root, dir), { recursive: true, force: true });
    const wiped = await build(root, { ...env, IMAGEGEN_REMOTE_WRITE: "0" });
    expect(wiped.message).toBeUndefined();
    expect(emitted(wiped.output)).toEqual(emitted(built.output));
    expect(emulator.requests).toHaveLength(0);

    // push adds the key indexes 0.1 did not write, so that a revert finds these images by key.
    const pulled = await runCli(["pull"], { cwd: root, apiUrl: emulator.url, env });
    expect(pulled.code, pulled.stderr).toBe(0);
    const push = await runCli(["push"], { cwd: root, apiUrl: emulator.url, env });
    expect(push.code, push.stderr).toBe(0);
    expect((await s3.list(`${remotePrefix}/keys/`)).length).toBe(3);
  });
});
