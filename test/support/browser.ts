import { type Browser, chromium } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`): playwright-core never downloads a browser here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

export interface RenderedImage {
  /** The id of the `<img>`, or of its `<picture>`. */
  id: string;
  currentSrc: string;
  naturalWidth: number;
  naturalHeight: number;
  complete: boolean;
}

export interface RenderedPage {
  images: RenderedImage[];
  /** What the page exposed as `window.imagegenPage`, if anything. */
  data: unknown;
  /** Responses of 400 and above, and uncaught errors in the page. */
  failures: string[];
}

/** Opens `url`, waits until every image has loaded or failed, and reports what the browser made of each. */
export async function renderPage(browser: Browser, url: string): Promise<RenderedPage> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
  const failures: string[] = [];
  page.on("response", (response) => {
    if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`);
  });
  page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
  try {
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction(() => [...document.images].every((img) => img.complete), undefined, { timeout: 10_000 });
    const images = await page.evaluate(() =>
      [...document.images].map((img) => ({
        id: img.id || img.closest("picture")?.id || img.closest("[data-name]")?.getAttribute("data-name") || "",
        currentSrc: img.currentSrc,
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
        complete: img.complete,
      })),
    );
    const data = await page.evaluate(() => (window as unknown as { imagegenPage?: unknown }).imagegenPage);
    return { images, data, failures };
  } finally {
    await page.close();
  }
}
