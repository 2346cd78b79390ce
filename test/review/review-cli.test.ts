import { cp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_API_KEY, copyFixture, filesContaining } from "../support/fixture-project.js";
import { allOutput, runCli } from "../support/run-cli.js";
import { startReview } from "../support/review-server.js";
import { type S3Server, startS3Server } from "../support/s3-server.js";
import { viteBuild } from "../reliability/support/project.js";

// Candidates and approval from a terminal (SPEC §13): reroll, approve, reject; the state in list,
// check and --json; the pull-request gate of review: "required" and its Markdown summary.

const FOX = "A red fox in the snow";
const LIGHTHOUSE = "A lighthouse at dawn";
let emulator: Emulator;
let s3: S3Server;
beforeAll(async () => {
  [emulator, s3] = await Promise.all([startEmulator({ apiKey: FAKE_API_KEY }), startS3Server({ prefix: "review" })]);
});
afterAll(async () => {
  await Promise.all([emulator?.close(), s3?.close()]);
});

interface Entry {
  prompt: string;
  sha256: string;
  approved?: string;
  pending?: string[];
}

async function lockOf(root: string): Promise<Record<string, Entry>> {
  return JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8")).images;
}

async function entryOf(root: string, prompt: string): Promise<[string, Entry]> {
  return Object.entries(await lockOf(root)).find(([, entry]) => entry.prompt === prompt)!;
}

async function generated(env: Record<string, string> = {}): Promise<string> {
  const root = await copyFixture("review-project");
  const result = await runCli(["generate"], { cwd: root, apiUrl: emulator.url, env });
  expect(result.code, result.stderr).toBe(0);
  return root;
}

async function requireReview(root: string): Promise<void> {
  await writeFile(path.join(root, "imagegen.config.ts"), `import { defineConfig } from "unplugin-imagegen";\n\nexport default defineConfig({ review: "required" });\n`);
}

describe("imagegen reroll, approve and reject", () => {
  it("reroll makes N paid candidates that do not re-pin; approve --candidate re-pins and approves; reject declines or withdraws", async () => {
    const root = await generated();
    const [key, first] = await entryOf(root, FOX);

    // maxGenerations counts them, and refuses before it starts any.
    emulator.requests.length = 0;
    const capped = await runCli(["reroll", "fox", "--n", "3", "--max-generations", "2"], { cwd: root, apiUrl: emulator.url });
    expect(capped.code).toBe(1);
    expect(capped.stdout).toBe(`3 new candidates of "${FOX}" would need 3 paid generations but maxGenerations is 2: nothing was generated.\n`);
    expect(emulator.requests).toHaveLength(0);

    const reroll = await runCli(["reroll", "fox", "--n", "3", "--json"], { cwd: root, apiUrl: emulator.url });
    expect(reroll.code, reroll.stderr).toBe(0);
    const made = JSON.parse(reroll.stdout);
    expect(made).toMatchObject({ ok: true, key, apiRequests: 3, failed: 0 });
    expect(made.candidates.map((candidate: { number: number; pinned: boolean; pending: boolean }) => [candidate.number, candidate.pinned, candidate.pending])).toEqual([
      [1, true, false],
      [2, false, true],
      [3, false, true],
      [4, false, true],
    ]);
    expect(emulator.requests).toHaveLength(3);
    // Four different images; the lock still pins the first, and lists the others as pending.
    const shas = made.candidates.map((candidate: { sha256: string }) => candidate.sha256);
    expect(new Set(shas).size).toBe(4);
    expect((await entryOf(root, FOX))[1]).toEqual({ ...first, pending: shas.slice(1) });

    const list = JSON.parse((await runCli(["list", "--json"], { cwd: root })).stdout);
    expect(list.images.map((image: { prompt: string; review: string; pending: string[] }) => [image.prompt, image.review, image.pending.length])).toEqual([
      [LIGHTHOUSE, "unreviewed", 0],
      [FOX, "pending", 3],
    ]);
    const table = (await runCli(["list"], { cwd: root })).stdout;
    expect(table).toMatch(/^fox +src\/site\.prompts\.yaml:6:3 +[0-9a-f]{20} +ok +pending +1024×1024 +unknown$/m);

    // Pending: which one must be said.
    const vague = await runCli(["approve", "fox"], { cwd: root });
    expect(vague.code).toBe(2);
    expect(vague.stderr).toContain(`fox ("${FOX}") has 3 pending candidates: choose one with --candidate <n> (1 (pinned) ${first.sha256.slice(0, 12)}…, 2 (pending)`);
    const wrong = await runCli(["approve", "fox", "--candidate", "9"], { cwd: root });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('no candidate "9"');

    const approve = await runCli(["approve", "fox", "--candidate", "3"], { cwd: root });
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.stdout).toBe(`approved fox ("${FOX}"): candidate 3, sha256 ${shas[2].slice(0, 12)}…\nimagegen.lock.json pins and approves it.\n`);
    expect((await entryOf(root, FOX))[1]).toEqual({ ...first, sha256: shas[2], approved: shas[2] });
    // By sha256 prefix too, and the store records each choice.
    expect((await runCli(["approve", key, "--candidate", shas[1].slice(0, 8)], { cwd: root })).code).toBe(0);
    expect((await entryOf(root, FOX))[1]).toMatchObject({ sha256: shas[1], approved: shas[1] });
    const meta = JSON.parse(await readFile(path.join(root, ".imagegen", `${key}.${shas[1].slice(0, 16)}.json`), "utf8"));
    expect(meta.chosenAt).toEqual(expect.any(String));

    // reject: pending candidates are declined, the pin keeps its approval; with none pending, the approval goes.
    expect((await runCli(["reroll", "fox"], { cwd: root, apiUrl: emulator.url })).code).toBe(0);
    const declined = await runCli(["reject", "fox"], { cwd: root });
    expect(declined.stdout).toBe(`declined 1 pending candidate of fox ("${FOX}") (kept in the stores); the pinned one stays approved\n`);
    expect((await entryOf(root, FOX))[1]).toEqual({ ...first, sha256: shas[1], approved: shas[1] });
    const withdrawn = await runCli(["reject", "fox"], { cwd: root });
    expect(withdrawn.stdout).toContain("withdrew the approval");
    expect((await entryOf(root, FOX))[1]).toEqual({ ...first, sha256: shas[1] });
    // Nothing is deleted: every candidate is still in the store.
    expect((await runCli(["reroll", "fox", "--n", "1", "--json"], { cwd: root, apiUrl: emulator.url }).then((r) => JSON.parse(r.stdout))).candidates).toHaveLength(6);

    // generate --force re-pins without approving: the new original is unreviewed, the pending ones stay.
    const forced = await runCli(["generate", "--force", "fox"], { cwd: root, apiUrl: emulator.url });
    expect(forced.code, forced.stderr).toBe(0);
    const afterForce = (await entryOf(root, FOX))[1];
    expect(afterForce.approved).toBeUndefined();
    expect(afterForce.pending).toHaveLength(1);
    expect(await filesContaining(root, FAKE_API_KEY)).toEqual([]);
    expect(allOutput.join("\n")).not.toContain(FAKE_API_KEY);
  });

  it("a choice reaches the remote's index, so that a machine without the lock entry takes the chosen candidate", async () => {
    const env = s3.env({ IMAGEGEN_REMOTE: `s3://${s3.bucket}/review/chosen` });
    const root = await generated(env);
    expect((await runCli(["reroll", "fox"], { cwd: root, apiUrl: emulator.url, env })).code).toBe(0);
    const [key, { pending }] = await entryOf(root, FOX);
    const approve = await runCli(["approve", "fox", "--candidate", "2"], { cwd: root, env });
    expect(approve.code, approve.stderr).toBe(0);
    const index = JSON.parse((await s3.read(`review/chosen/keys/${key}.json`))!.toString("utf8"));
    expect(index.candidates.find((candidate: { sha256: string }) => candidate.sha256 === pending![0])).toMatchObject({ chosenAt: expect.any(String) });

    // A teammate's clone from before the choice: no lock entry for the fox, an empty store.
    const clone = await copyFixture("review-project");
    const requests = emulator.requests.length;
    const pulled = await runCli(["generate"], { cwd: clone, apiUrl: emulator.url, env });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect((await entryOf(clone, FOX))[1].sha256).toBe(pending![0]);
    expect(emulator.requests.length).toBe(requests);
  });
});

describe('review: "required"', () => {
  it("check exits 1 naming each unapproved image, 0 once all are approved; --json gives the states", async () => {
    const root = await generated();
    const optional = await runCli(["check"], { cwd: root });
    expect(optional.code, optional.stdout).toBe(0);

    await requireReview(root);
    const failing = await runCli(["check"], { cwd: root });
    expect(failing.code).toBe(1);
    const [lighthouseKey] = await entryOf(root, LIGHTHOUSE);
    const [foxKey] = await entryOf(root, FOX);
    expect(failing.stdout.split("\n").filter((line) => line.startsWith("unreviewed"))).toEqual([
      `unreviewed "${LIGHTHOUSE}" key ${lighthouseKey} — src/main.js:2:23, src/main.js:3:29: nobody approved it (\`imagegen review\`, or \`imagegen approve ${lighthouseKey}\`)`,
      `unreviewed "${FOX}" key ${foxKey} — src/site.prompts.yaml:6:3: nobody approved it (\`imagegen review\`, or \`imagegen approve ${foxKey}\`)`,
    ]);
    expect(failing.stdout).toContain("Not clean: 0 missing, 0 stale, 0 unlocked, 2 not approved, 0 errors (2 images in use).");

    expect((await runCli(["approve", lighthouseKey], { cwd: root })).code).toBe(0);
    expect((await runCli(["reroll", "fox"], { cwd: root, apiUrl: emulator.url })).code).toBe(0);
    const pending = await runCli(["check", "--json"], { cwd: root });
    expect(pending.code).toBe(1);
    expect(JSON.parse(pending.stdout).review).toEqual({
      required: true,
      approved: 1,
      unreviewed: [],
      pending: [expect.objectContaining({ key: foxKey, prompt: FOX, candidates: [expect.stringMatching(/^[0-9a-f]{64}$/)] })],
    });

    // --all approves what is unreviewed; a pending image needs a choice.
    const all = await runCli(["approve", "--all"], { cwd: root });
    expect(all.stdout).toContain("pending fox");
    expect((await runCli(["check"], { cwd: root })).code).toBe(1);
    expect((await runCli(["approve", "fox", "--candidate", "1"], { cwd: root })).code).toBe(0);
    const clean = await runCli(["check"], { cwd: root });
    expect(clean.code, clean.stdout).toBe(0);
    expect(clean.stdout).toBe("Clean: 2 images in use, every one stored and locked and approved.\n");
  });

  it("check --markdown names new, changed, pending and unreviewed images with prompt, where used and key", async () => {
    const root = await generated();
    await requireReview(root);
    const base = path.join(root, "base.lock.json");
    await cp(path.join(root, "imagegen.lock.json"), base);
    const [foxKey] = await entryOf(root, FOX);
    const [lighthouseKey] = await entryOf(root, LIGHTHOUSE);
    // Since the base: the fox re-rolled and re-pinned, a new image whose prompt a comment would misread.
    await runCli(["generate", "--force", "fox"], { cwd: root, apiUrl: emulator.url });
    const main = path.join(root, "src", "main.js");
    await writeFile(main, `${await readFile(main, "utf8")}import tricky from "gen:a | table-breaking <b>prompt</b> for @team?w=64&format=webp";\nconsole.log(tricky);\n`);
    expect((await runCli(["generate"], { cwd: root, apiUrl: emulator.url })).code).toBe(0);

    const summary = await runCli(["check", "--markdown", "--base", base], { cwd: root });
    expect(summary.code).toBe(1);
    const text = summary.stdout;
    expect(text).toMatch(/^## imagegen ❌ 3 images in use\n\nNot clean: 3 not approved \(review is required\)\.\n/);
    const sections = [...text.matchAll(/^### (.+)$/gm)].map((match) => match[1]);
    expect(sections).toEqual(["New (1)", "Changed (1)", "Unreviewed (1)"]);
    const rows = text.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| image") && !line.startsWith("| ---"));
    const trickyKey = Object.entries(await lockOf(root)).find(([, entry]) => entry.prompt.startsWith("a | table"))![0];
    expect(rows).toEqual([
      `| a \\| table-breaking &lt;b\\>prompt&lt;/b\\> for &#64;team | unreviewed | \`src/main.js:12:20\` | \`${trickyKey}\` |`,
      `| **fox** ${FOX} | unreviewed | \`src/site.prompts.yaml:6:3\` | \`${foxKey}\` |`,
      `| ${LIGHTHOUSE} | unreviewed | \`src/main.js:2:23\`<br>\`src/main.js:3:29\` | \`${lighthouseKey}\` |`,
    ]);
    expect(text).toContain("To review: `imagegen pull`, then `imagegen review`");
  });

  it("check --markdown stays under a pull-request comment's size with thousands of images", async () => {
    const root = await copyFixture("review-project");
    const prompt = (i: number) => `gen:image number ${i} of a very large site, a long prompt that describes the scene in detail ${"and more detail ".repeat(8)}`;
    const imports = Array.from({ length: 3000 }, (_, i) => `import image${i} from "${prompt(i)}";`).join("\n");
    await writeFile(path.join(root, "src", "many.js"), `${imports}\nexport default [${Array.from({ length: 3000 }, (_, i) => `image${i}`).join(", ")}];\n`);
    const summary = await runCli(["check", "--markdown"], { cwd: root });
    expect(summary.code).toBe(1);
    expect(summary.stdout.length).toBeLessThan(65_536);
    expect(Buffer.byteLength(summary.stdout)).toBeLessThan(1024 * 1024);
    expect(summary.stdout).toMatch(/^### Missing \(3002\)$/m);
    const listed = summary.stdout.split("\n").filter((line) => line.startsWith("| ") && line.includes("| missing |")).length;
    expect(listed).toBeGreaterThan(50);
    expect(summary.stdout).toContain(`…and ${3002 - listed} more images, left out to keep this summary short: \`imagegen check --json\` lists every one.`);
  });
});

describe("a project written by release 0.1", () => {
  it("builds and reviews with no manual step: every image is unreviewed, and approving adds one line per entry", async () => {
    const root = await copyFixture("release-0.1/project");
    const lockBefore = await readFile(path.join(root, "imagegen.lock.json"), "utf8");
    const built = await viteBuild(root, { root, frozen: true });
    expect(built.message).toBeUndefined();
    expect(await readFile(path.join(root, "imagegen.lock.json"), "utf8")).toBe(lockBefore);

    const list = JSON.parse((await runCli(["list", "--json"], { cwd: root })).stdout);
    expect(list.images.map((image: { review: string }) => image.review)).toEqual(["unreviewed", "unreviewed", "unreviewed"]);
    const review = await startReview([], { cwd: root });
    try {
      const html = await (await fetch(review.url)).text();
      const data = JSON.parse(/<script id="imagegen-data" type="application\/json">(.*)<\/script>/.exec(html)![1]!);
      expect(data.images.map((image: { state: string; candidates: unknown[] }) => [image.state, image.candidates.length])).toEqual([
        ["unreviewed", 1],
        ["unreviewed", 1],
        ["unreviewed", 1],
      ]);
    } finally {
      expect(await review.stop()).toBe(0);
    }

    expect((await runCli(["approve", "--all"], { cwd: root })).code).toBe(0);
    const lockAfter = await readFile(path.join(root, "imagegen.lock.json"), "utf8");
    const added = lockAfter.split("\n").filter((line) => !lockBefore.split("\n").includes(line));
    expect(added.filter((line) => line.includes('"approved"'))).toHaveLength(3);
    // Each entry's last line gains a comma, and an "approved" line follows: nothing else moves.
    expect(added.filter((line) => !line.includes('"approved"'))).toEqual(['      "height": 96,', '      "height": 96,', '      "height": 96,']);
    const rebuilt = await viteBuild(root, { root, frozen: true });
    expect(rebuilt.message).toBeUndefined();
  });
});
