import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { Browser } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser.js";
import { copyFixture } from "../support/fixture-project.js";
import { runCli } from "../support/run-cli.js";

let emulator: Emulator;
let browser: Browser;
beforeAll(async () => {
  emulator = await startEmulator();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await emulator?.close();
});

describe("imagegen report", () => {
  it("writes a page whose thumbnails decode in Chromium, with prompts, parameters and where each image is used", async () => {
    const root = await copyFixture("cli-project");
    expect((await runCli(["generate"], { cwd: root, apiUrl: emulator.url })).code).toBe(0);
    // One image missing (an edited prompt) and one not in use (the prompt it replaced).
    const manifest = path.join(root, "src/site.prompts.yaml");
    await writeFile(manifest, (await readFile(manifest, "utf8")).replace("A harbour at blue hour", "A harbour at golden hour"));

    const report = await runCli(["report"], { cwd: root });
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toBe(
      [
        "Wrote imagegen-report/index.html: 4 images, 4 with a thumbnail, 1 not in use.",
        // 1min.ai's credit prices are not documented: without `prices`, none is known (docs/cost.md).
        "The originals in use cost unknown; every candidate the store keeps, unknown (docs/cost.md).",
        "",
      ].join("\n"),
    );

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(pathToFileURL(path.join(root, "imagegen-report/index.html")).href, { waitUntil: "load" });
    const images = await page.$$eval("img", (elements) =>
      elements.map((img) => ({ src: img.getAttribute("src"), complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight })),
    );
    expect(images).toHaveLength(4);
    for (const image of images) {
      expect(image.src).toMatch(/^images\/[0-9a-f]{20}\.webp$/);
      expect(image.complete).toBe(true);
      expect(image.naturalWidth).toBe(480);
      expect(image.naturalHeight).toBe(480);
    }

    const cards = await page.$$eval("article", (articles) =>
      articles.map((article) => ({ status: article.dataset.status, text: (article as HTMLElement).innerText })),
    );
    expect(cards.map((card) => card.status)).toEqual(["ok", "ok", "missing", "ok", "orphaned"]);
    const fox = cards[1]!.text;
    expect(fox).toContain("a red fox");
    expect(fox).toContain("Sent as: a red fox, loose watercolor on textured paper");
    expect(fox).toMatch(/style\s+watercolor/);
    expect(fox).toMatch(/aspect\s+4:3/);
    expect(fox).toMatch(/pixels\s+1024×1024/);
    expect(fox).toContain("src/main.ts:2:22");
    expect(cards[2]!.text).toContain("A harbour at golden hour");
    expect(cards[2]!.text).toContain("Not generated yet");
    expect(cards[4]!.text).toContain("A harbour at blue hour");

    const screenshot = path.join(tmpdir(), `imagegen-report-${process.pid}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    const { width, height } = await sharp(screenshot).metadata();
    expect(width).toBe(1280);
    expect(height).toBeGreaterThan(900);
    await page.close();
  });
});
