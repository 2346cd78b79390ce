import { readFile } from "node:fs/promises";
import { type Server, createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type OutputParams, renderVariants } from "@imagegen/core";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { Browser, Page } from "playwright-core";
import imagegen from "unplugin-imagegen/vite";
import { type Rollup, build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser.js";
import { FAKE_API_KEY, captureLogger, copyFixture, filesContaining } from "../support/fixture-project.js";
import { type RunningReview, startReview } from "../support/review-server.js";
import { runCli } from "../support/run-cli.js";

// `imagegen review` driven in Chromium as a person does (SPEC §13): keys, what the page shows,
// what the lock on disk says afterwards; then what it refuses, and the static report.

const FOX = "A red fox in the snow";
/** The fox's import in the fixture's manifest: what a build ships of it. */
const FOX_OUTPUT: OutputParams = { widths: [240], formats: ["webp"], quality: undefined, aspect: { width: 4, height: 3 }, fit: "contain", placeholder: "none" };

let emulator: Emulator;
let browser: Browser;
let root: string;
let review: RunningReview;
const pages: Page[] = [];

interface LockEntry {
  prompt: string;
  sha256: string;
  approved?: string;
  pending?: string[];
}

/** A GET with a Host header of our choosing (fetch keeps its own). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers: { Host: host } }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

async function lockText(): Promise<string> {
  return readFile(path.join(root, "imagegen.lock.json"), "utf8");
}

async function foxEntry(): Promise<[string, LockEntry]> {
  const images = JSON.parse(await lockText()).images as Record<string, LockEntry>;
  return Object.entries(images).find(([, entry]) => entry.prompt === FOX)!;
}

async function openReview(url = review.url): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  pages.push(page);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector(".image-list li");
  expect(errors).toEqual([]);
  return page;
}

/** The open image's candidates as the page shows them, once each preview has loaded. */
async function shownCandidates(page: Page) {
  await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>("#detail img")].every((img) => img.complete && img.naturalWidth > 0));
  return page.$$eval("#detail .candidates article", (articles) =>
    articles.map((article) => ({
      number: Number((article as HTMLElement).dataset.number),
      sha256: (article as HTMLElement).dataset.sha256!,
      picked: article.querySelector("header button")!.getAttribute("aria-pressed") === "true",
      tags: [...article.querySelectorAll(".tag")].map((tag) => tag.textContent),
      previews: [...article.querySelectorAll("img")].map((img) => [img.naturalWidth, img.naturalHeight]),
    })),
  );
}

async function statusAfter(page: Page, key: string, expected: RegExp): Promise<string> {
  await page.keyboard.press(key);
  const shown = () => page.locator("#status").textContent();
  await page
    .waitForFunction((source) => new RegExp(source).test(document.querySelector("#status")?.textContent ?? ""), expected.source, { timeout: 30_000 })
    .catch(async (error: Error) => {
      throw new Error(`after "${key}" the page says ${JSON.stringify(await shown())}, not ${expected}`, { cause: error });
    });
  return (await shown())!;
}

beforeAll(async () => {
  emulator = await startEmulator();
  browser = await launchChromium();
  root = await copyFixture("review-project");
  const generated = await runCli(["generate"], { cwd: root, apiUrl: emulator.url });
  expect(generated.code, generated.stderr).toBe(0);
  review = await startReview([], { cwd: root, apiUrl: emulator.url });
}, 60_000);

afterAll(async () => {
  for (const page of pages) await page.close().catch(() => {});
  expect(await review?.stop()).toBe(0);
  await browser?.close();
  await emulator?.close();
});

describe("imagegen review, with the keyboard only", () => {
  it("opens an image, re-rolls it (one paid request, asked first), picks the new candidate and approves it; undo brings the first back; a build ships the choice", async () => {
    expect(review.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await openReview();
    const [key, first] = await foxEntry();
    expect(first.approved).toBeUndefined();

    // j opens the next image: the manifest's fox, after the lighthouse of src/main.js.
    expect(await page.locator("#open-title").textContent()).toBe("A lighthouse at dawn");
    // The lighthouse is imported twice, as made and at 16:9: each candidate is shown at both crops.
    expect((await shownCandidates(page))[0]!.previews).toEqual([
      [640, 640],
      [640, 360],
    ]);
    await page.keyboard.press("j");
    expect(await page.locator("#open-title").textContent()).toBe("fox");
    const before = await shownCandidates(page);
    expect(before).toEqual([{ number: 1, sha256: first.sha256, picked: true, tags: ["pinned"], previews: [[640, 480]] }]);

    // r says what it will spend before it spends it.
    const requests = emulator.requests.length;
    await page.keyboard.press("r");
    await page.waitForSelector("#reroll-dialog[open]");
    expect(await page.locator("#reroll-text").textContent()).toContain("this starts 1 paid generation, estimated at unknown");
    expect(await page.locator("#reroll-dialog button.primary").textContent()).toBe("Start 1 paid generation");
    expect(emulator.requests.length).toBe(requests);
    await statusAfter(page, "Enter", /^Made 1 new candidate/);
    expect(emulator.requests.length).toBe(requests + 1);

    const rerolled = await shownCandidates(page);
    expect(rerolled.map(({ number, tags }) => [number, tags])).toEqual([
      [1, ["pinned"]],
      [2, ["pending"]],
    ]);
    const second = rerolled[1]!.sha256;
    expect(second).not.toBe(first.sha256);
    expect(await page.locator("#detail .badges .state").textContent()).toBe("pending");
    expect((await foxEntry())[1]).toMatchObject({ sha256: first.sha256, pending: [second] });

    await page.keyboard.press("2");
    expect((await shownCandidates(page)).map((candidate) => candidate.picked)).toEqual([false, true]);
    await statusAfter(page, "a", /^Approved sha256/);
    const approved = (await foxEntry())[1];
    expect(approved.sha256).toBe(second);
    expect(approved.approved).toBe(second);
    expect(approved.pending).toBeUndefined();
    expect(await page.locator("#detail .badges .state").textContent()).toBe("approved");
    // The store marks the choice, so that a machine without this lock entry takes it too.
    const chosen = JSON.parse(await readFile(path.join(root, ".imagegen", `${key}.${second.slice(0, 16)}.json`), "utf8"));
    expect(chosen.chosenAt).toEqual(expect.any(String));

    await statusAfter(page, "u", /^Undone/);
    const undone = (await foxEntry())[1];
    expect(undone).toMatchObject({ sha256: first.sha256, pending: [second] });
    expect(undone.approved).toBeUndefined();
    expect((await shownCandidates(page)).map(({ tags }) => tags)).toEqual([["pinned"], ["pending"]]);

    await page.keyboard.press("2");
    await statusAfter(page, "a", /^Approved sha256/);
    expect((await foxEntry())[1]).toMatchObject({ sha256: second, approved: second });

    // A build takes what the lock pins: the fox it ships is candidate 2 at its 4:3 crop, and nothing is generated.
    const requestsBeforeBuild = emulator.requests.length;
    const output = (await build({
      root,
      configFile: false,
      logLevel: "silent",
      build: { write: false, modulePreload: { polyfill: false } },
      plugins: [imagegen({ frozen: true, logger: captureLogger().logger })],
    })) as Rollup.RolldownOutput;
    const shipped = output.output.filter((file) => file.type === "asset" && file.fileName.includes("a-red-fox")).map((file) => Buffer.from((file as Rollup.OutputAsset).source));
    const render = async (sha256: string) => {
      const file = sha256 === first.sha256 ? `${key}.png` : `${key}.${sha256.slice(0, 16)}.png`;
      return (await renderVariants(await readFile(path.join(root, ".imagegen", file)), FOX_OUTPUT)).variants[0]!.bytes;
    };
    expect(shipped).toHaveLength(1);
    expect(shipped[0]!.equals(await render(second))).toBe(true);
    expect(shipped[0]!.equals(await render(first.sha256))).toBe(false);
    expect(emulator.requests.length).toBe(requestsBeforeBuild);
  });

  it("shows every key on ? and labels every control", async () => {
    const page = await openReview();
    await page.keyboard.press("?");
    await page.waitForSelector("#help-dialog[open]");
    const keys = await page.$$eval("#help-dialog dt", (terms) => terms.map((term) => term.textContent));
    expect(keys).toEqual(["j / k", "1–9", "a", "r", "u", "?"]);
    await page.keyboard.press("Escape");
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("button, input, select")]
        .filter((control) => {
          const labelled = control.textContent?.trim() || control.getAttribute("aria-label") || (control.id && document.querySelector(`label[for="${control.id}"]`));
          return !labelled;
        })
        .map((control) => control.outerHTML),
    );
    expect(unlabelled).toEqual([]);
  });
});

describe("what the review server refuses", () => {
  let evil: Server;
  let evilUrl: string;
  beforeAll(async () => {
    // Another origin on the same machine: a page a person might have open in another tab.
    evil = createServer((_req, res) => res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>another site</title>"));
    await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
    evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => evil.close(() => resolve())));

  async function tokenAndKey(): Promise<{ token: string; key: string; sha256: string }> {
    const html = await (await fetch(review.url)).text();
    const token = /name="imagegen-token" content="([^"]+)"/.exec(html)![1]!;
    const [key, entry] = await foxEntry();
    return { token, key, sha256: entry.pending?.[0] ?? entry.sha256 };
  }

  it("refuses a POST from another origin, one without the token, and any path outside the store, changing nothing on disk", async () => {
    const { token, key, sha256 } = await tokenAndKey();
    const lock = await lockText();
    const post = (headers: Record<string, string>, body: unknown = { key, sha256 }) =>
      fetch(new URL("api/approve", review.url), { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });
    const origin = new URL(review.url).origin;

    const crossOrigin = await post({ Origin: "http://evil.example", "X-Imagegen-Token": token });
    expect([crossOrigin.status, await crossOrigin.text()]).toEqual([403, "imagegen: a change from another origin (http://evil.example) is refused\n"]);
    const noToken = await post({ Origin: origin });
    expect([noToken.status, await noToken.text()]).toEqual([403, "imagegen: the token is missing or wrong (reload the page)\n"]);
    const wrongToken = await post({ Origin: origin, "X-Imagegen-Token": `${token.slice(0, -1)}x` });
    expect(wrongToken.status).toBe(403);
    const crossSite = await post({ Origin: origin, "X-Imagegen-Token": token, "Sec-Fetch-Site": "cross-site" });
    expect(crossSite.status).toBe(403);
    const form = await fetch(new URL("api/approve", review.url), { method: "POST", headers: { Origin: origin, "X-Imagegen-Token": token, "Content-Type": "text/plain" }, body: "{}" });
    expect(form.status).toBe(403);
    // A name that resolves here (DNS rebinding) gets nothing, not even the page and its token.
    const rebound = await getWithHost(review.url, `attacker.example:${new URL(review.url).port}`);
    expect(rebound.status).toBe(421);
    expect(rebound.body).not.toContain(token);

    // Paths: an image is found by its name among those the page was given, never by a path.
    for (const route of ["images/../imagegen.lock.json", "images/..%2F..%2Fimagegen.lock.json", "images/%2e%2e%2fimagegen.config.ts", "..%2Fpackage.json", "images/", ".imagegen/", `images/${key}.png`, "review-page.js/../imagegen.lock.json"]) {
      const response = await fetch(`${review.url}${route}`);
      expect(response.status, route).toBe(404);
      const text = await response.text();
      expect(text, route).not.toContain(FOX);
      expect(text, route).not.toContain("defineConfig");
    }
    // An approval of something that is not a candidate of an image in use.
    const outside = await post({ Origin: origin, "X-Imagegen-Token": token }, { key, sha256: "0".repeat(64) });
    expect(outside.status).toBe(404);
    const badKey = await post({ Origin: origin, "X-Imagegen-Token": token }, { key: "../../etc/passwd", sha256 });
    expect(badKey.status).toBe(400);
    expect(await lockText()).toBe(lock);
  });

  it("gives a page of another origin neither the token nor a change (Chromium)", async () => {
    const lock = await lockText();
    const page = await browser.newPage();
    pages.push(page);
    await page.goto(evilUrl);
    const attempts = await page.evaluate(async (target) => {
      const read = await fetch(target).then(
        (response) => response.text(),
        (error: Error) => `refused: ${error.name}`,
      );
      // A "simple" request, which a browser sends without asking: the server refuses it (no token, not
      // JSON, another origin), and Cross-Origin-Resource-Policy hides even that answer from the page.
      const simple = await fetch(`${target}api/approve`, { method: "POST", mode: "no-cors", body: JSON.stringify({ key: "0".repeat(20) }) }).then(
        (response) => response.type,
        (error: Error) => `refused: ${error.name}`,
      );
      const withToken = await fetch(`${target}api/approve`, { method: "POST", headers: { "Content-Type": "application/json", "X-Imagegen-Token": "guess" }, body: "{}" }).then(
        (response) => String(response.status),
        (error: Error) => `refused: ${error.name}`,
      );
      return { read, simple, withToken };
    }, review.url);
    expect(attempts).toEqual({ read: "refused: TypeError", simple: "refused: TypeError", withToken: "refused: TypeError" });
    // Nor can it frame the page to click for you.
    const framed = await (await fetch(review.url)).headers;
    expect(framed.get("x-frame-options")).toBe("DENY");
    expect(framed.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(framed.get("access-control-allow-origin")).toBeNull();
    expect(await lockText()).toBe(lock);
  });

  it("is read-only when it listens beyond loopback", async () => {
    const open = await startReview(["--host", "0.0.0.0"], { cwd: root, apiUrl: emulator.url });
    try {
      const url = open.url.replace("0.0.0.0", "127.0.0.1");
      const html = await (await fetch(url)).text();
      expect(html).not.toContain("imagegen-token");
      expect(html).toContain('"mode":"read-only"');
      const { key, sha256 } = await tokenAndKey();
      const refused = await fetch(`${url}api/approve`, { method: "POST", headers: { "Content-Type": "application/json", Origin: new URL(url).origin }, body: JSON.stringify({ key, sha256 }) });
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain("read-only");
    } finally {
      expect(await open.stop()).toBe(0);
    }
  });
});

describe("two tabs", () => {
  it("approving different candidates at once leave one consistent lock: one wins, the other is told and shows it", async () => {
    // A third candidate from the terminal, while the server runs: both tabs then choose another than the pinned one.
    const reroll = await runCli(["reroll", "fox"], { cwd: root, apiUrl: emulator.url });
    expect(reroll.code, reroll.stderr).toBe(0);
    const [a, b] = [await openReview(), await openReview()];
    for (const page of [a, b]) await page.keyboard.press("j");
    await a.keyboard.press("1");
    await b.keyboard.press("3");
    const [key] = await foxEntry();
    const candidates = (await shownCandidates(a)).map((candidate) => candidate.sha256);

    await Promise.all([a.keyboard.press("a"), b.keyboard.press("a")]);
    const settled = (page: Page) => page.waitForFunction(() => /^(Approved|the lock entry)/.test(document.querySelector("#status")?.textContent ?? "")).then(() => page.locator("#status").textContent());
    const said = await Promise.all([settled(a), settled(b)]);
    expect(said.filter((text) => text!.startsWith("Approved"))).toHaveLength(1);
    expect(said.filter((text) => text!.includes("changed since it was read"))).toHaveLength(1);

    const entry = JSON.parse(await lockText()).images[key] as LockEntry;
    const winner = said[0]!.startsWith("Approved") ? candidates[0] : candidates[2];
    expect(entry.sha256).toBe(winner);
    expect(entry.approved).toBe(winner);
    // The refused tab now shows the lock as it is.
    const loser = said[0]!.startsWith("Approved") ? b : a;
    expect((await shownCandidates(loser)).find((candidate) => candidate.tags.includes("pinned"))!.sha256).toBe(winner);
  });
});

describe("a project written by release 0.1", () => {
  it("is reviewed in the page with no manual step: its images are unreviewed, shown, and a approves the open one", async () => {
    const old = await copyFixture("release-0.1/project");
    const lockPath = path.join(old, "imagegen.lock.json");
    const before = JSON.parse(await readFile(lockPath, "utf8")).images as Record<string, LockEntry>;
    const oldReview = await startReview([], { cwd: old });
    try {
      const page = await openReview(oldReview.url);
      expect(await page.$$eval(".image-list li", (items) => items.length)).toBe(3);
      expect(await page.locator("#detail .badges .state").textContent()).toBe("unreviewed");
      // Its one original, stored under the name release 0.1 gave it, is the pinned candidate.
      const [candidate] = await shownCandidates(page);
      expect(candidate).toMatchObject({ number: 1, picked: true, tags: ["pinned"], previews: [[96, 96]] });
      const key = Object.keys(before).find((k) => before[k]!.sha256 === candidate!.sha256)!;
      expect(key).toBeDefined();

      await statusAfter(page, "a", /^Approved sha256/);
      const after = JSON.parse(await readFile(lockPath, "utf8")).images as Record<string, LockEntry>;
      expect(after).toEqual({ ...before, [key]: { ...before[key], approved: candidate!.sha256 } });
      expect(await page.locator("#detail .badges .state").textContent()).toBe("approved");
    } finally {
      expect(await oldReview.stop()).toBe(0);
    }
  });
});

describe("imagegen report", () => {
  it("writes the same page read-only, which opens from file:// and shows every candidate at each crop", async () => {
    const report = await runCli(["report"], { cwd: root });
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toBe(
      "Wrote imagegen-report/index.html: 2 images, 4 candidates, 5 previews.\nThe originals in use cost unknown; every candidate the store keeps, unknown (docs/cost.md).\n",
    );

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    pages.push(page);
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("requestfailed", (request) => errors.push(`failed: ${request.url()}`));
    await page.goto(pathToFileURL(path.join(root, "imagegen-report", "index.html")).href, { waitUntil: "load" });
    await page.waitForSelector(".image-list li");
    expect(await page.locator(".banner").textContent()).toMatch(/^A report written by imagegen report at .*: read-only/);
    // Nothing to change from a report.
    expect(await page.locator("#detail .toolbar button", { hasText: "Approve" }).count()).toBe(0);
    const lighthouse = await shownCandidates(page);
    expect(lighthouse.map((candidate) => candidate.previews)).toEqual([
      [
        [640, 640],
        [640, 360],
      ],
    ]);
    await page.keyboard.press("j");
    const fox = await shownCandidates(page);
    expect(fox.map((candidate) => candidate.number)).toEqual([1, 2, 3]);
    expect(fox.every((candidate) => candidate.previews.length === 1 && candidate.previews[0]![0] === 640)).toBe(true);
    expect(errors).toEqual([]);
    expect(await filesContaining(path.join(root, "imagegen-report"), FAKE_API_KEY)).toEqual([]);
  });
});
