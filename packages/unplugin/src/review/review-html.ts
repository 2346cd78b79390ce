import { readFile } from "node:fs/promises";
import type { ReviewData } from "./review-types.js";

/** The page's script and style, built beside this file into `dist/` (tsdown.config.ts). */
export const PAGE_ASSETS = { "review-page.js": "text/javascript; charset=utf-8", "review-page.css": "text/css; charset=utf-8" } as const;
export type PageAsset = keyof typeof PAGE_ASSETS;

const assetCache = new Map<PageAsset, Promise<Buffer>>();

/** The bytes of the page's script or style. */
export function pageAsset(name: PageAsset): Promise<Buffer> {
  let bytes = assetCache.get(name);
  if (!bytes) {
    bytes = readFile(new URL(`./${name}`, import.meta.url));
    bytes.catch(() => assetCache.delete(name));
    assetCache.set(name, bytes);
  }
  return bytes;
}

/**
 * The one HTML page of review (SPEC §13), served live or written as a static report: the data is
 * embedded as JSON (a `file://` page can fetch nothing), the script is a classic one (Chromium
 * refuses module scripts from `file://`), and a live page holds its server's token in a meta tag.
 */
export function reviewHtml(data: ReviewData, token?: string): string {
  // `<` escaped, so that no prompt can close the script element.
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${token ? `<meta name="imagegen-token" content="${token}">\n` : ""}<title>${escapeHtml(data.title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="review-page.css">
<script id="imagegen-data" type="application/json">${json}</script>
<script src="review-page.js" defer></script>
</head>
<body>
<noscript>The review page needs JavaScript; <code>imagegen list</code> and <code>imagegen check</code> show the same in a terminal.</noscript>
</body>
</html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
