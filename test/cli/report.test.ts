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
        "Wrote imagegen-report/index.html: 4 images, 3 candidates, 3 previews, 1 not in use.",
        // 1min.ai's credit prices are not documented: without `prices`, none is known (docs/cost.md).
        "The originals in use cost unknown; every candidate the store keeps, unknown (docs/cost.md).",
        "",
      ].join("\n"),
    );

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(pathToFileURL(path.join(root, "imagegen-report/index.html")).href, { waitUntil: "load" });
    await page.waitForSelector(".image-list li");
    const listed = await page.$$eval(".image-list li", (items) => items.map((item) => [(item as HTMLElement).dataset.state, item.textContent]));
    expect(listed).toEqual([
      ["unreviewed", expect.stringContaining("A lighthouse at dawn")],
      ["unreviewed", expect.stringContaining("a red fox")],
      ["unreviewed", expect.stringContaining("hero")],
      ["unreviewed", expect.stringContaining("team-photo")],
    ]);
    const images = async () => {
      await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>("#detail img")].every((img) => img.complete));
      return page.$$eval("#detail img", (elements) => elements.map((img) => ({ src: img.getAttribute("src"), naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight })));
    };
    expect(await images()).toEqual([{ src: expect.stringMatching(/^images\/[0-9a-f]{16}-full\.webp$/), naturalWidth: 640, naturalHeight: 640 }]);

    await page.keyboard.press("j");
    expect(await images()).toEqual([{ src: expect.stringMatching(/^images\/[0-9a-f]{16}-4x3-cover\.webp$/), naturalWidth: 640, naturalHeight: 480 }]);
    const fox = (await page.locator("#detail").innerText()).replace(/\s+/g, " ");
    expect(fox).toContain("a red fox");
    expect(fox).toContain("Sent as: a red fox, loose watercolor on textured paper");
    expect(fox).toContain("style watercolor");
    expect(fox).toContain("4:3, cover · 320×240 webp");
    expect(fox).toContain("1024×1024");
    expect(fox).toContain("src/main.ts:2:22");

    await page.keyboard.press("j");
    expect(await page.locator("#open-title").textContent()).toBe("hero");
    expect(await page.locator("#detail").innerText()).toContain("Not generated yet");
    expect(await page.locator("footer").innerText()).toContain("A harbour at blue hour");
    expect(errors).toEqual([]);

    const screenshot = path.join(tmpdir(), `imagegen-report-${process.pid}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    const { width, height } = await sharp(screenshot).metadata();
    expect(width).toBe(1280);
    expect(height).toBeGreaterThan(900);
    await page.close();
  });
});
