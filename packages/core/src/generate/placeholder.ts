import { loadSharp } from "../sharp.js";
import { originalKey } from "../spec/key.js";
import type { GenerationRequest, Provider } from "./provider.js";
import { SIZE_PIXELS } from "../spec/spec.js";

/** The SVG is laid out on this grid and scaled to the target size by librsvg, so text stays sharp. */
const GRID = 1024;
const FONT_SIZE = 52;
const LINE_HEIGHT = 66;
/** Width of a line in "units": one per lowercase letter, two per wide character (CJK, emoji). */
const LINE_UNITS = 30;
const MAX_LINES = 9;

/**
 * Offline stand-ins used when there is no API key (SPEC §5): a PNG of exactly the requested
 * size that shows its prompt, the same bytes for the same request. Never stored or locked.
 */
export function createPlaceholderProvider(): Provider {
  return {
    id: "placeholder",
    persistent: false,
    async generate(request, { signal }) {
      signal.throwIfAborted();
      const pixels = SIZE_PIXELS[request.size];
      const sharp = await loadSharp();
      const bytes = await sharp(Buffer.from(placeholderSvg(request, { width: pixels, height: pixels })))
        .png({ compressionLevel: 6 })
        .toBuffer();
      return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    },
  };
}

/**
 * The placeholder's picture as SVG, `size` pixels, cropped from the centre like a `cover` variant.
 * `label` is its top line: the dev server shows "generating…" while the real image is on its way.
 */
export function placeholderSvg(
  request: GenerationRequest,
  size: { width: number; height: number },
  label = "placeholder",
): string {
  const key = originalKey(request);
  // A muted colour per request, so that neighbouring placeholders (and variants) differ.
  const hue = Number.parseInt(key.slice(0, 4), 16) % 360;
  const lines = wrap(request.prompt, LINE_UNITS, MAX_LINES);
  const top = GRID / 2 - ((lines.length - 1) * LINE_HEIGHT) / 2 + FONT_SIZE / 3;
  const details = [
    request.size,
    `temperature ${request.temperature}`,
    `topP ${request.topP}`,
    ...(request.variant ? [`variant ${request.variant}`] : []),
  ].join(" · ");
  const text = (y: number, size: number, content: string, extra = "") =>
    `<text x="${GRID / 2}" y="${y}" font-size="${size}" text-anchor="middle"${extra}>${escapeXml(content)}</text>`;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${size.height}" viewBox="0 0 ${GRID} ${GRID}" preserveAspectRatio="xMidYMid slice">`,
    `<rect width="${GRID}" height="${GRID}" fill="hsl(${hue},28%,84%)"/>`,
    `<rect x="16" y="16" width="${GRID - 32}" height="${GRID - 32}" fill="none" stroke="hsl(${hue},20%,60%)" stroke-width="4" stroke-dasharray="24 16"/>`,
    `<g font-family="DejaVu Sans, Noto Sans, Arial, sans-serif" fill="hsl(${hue},30%,22%)">`,
    text(110, 44, label, ` letter-spacing="8" font-weight="bold" fill-opacity="0.6"`),
    ...lines.map((line, i) => text(top + i * LINE_HEIGHT, FONT_SIZE, line)),
    text(GRID - 90, 30, details, ` fill-opacity="0.7"`),
    text(GRID - 50, 26, `${request.model} · ${key}`, ` fill-opacity="0.5"`),
    `</g>`,
    `</svg>`,
  ].join("\n");
}

let segmenter: Intl.Segmenter | undefined;
/** The grapheme clusters of `text`. The segmenter is made on first use: making one costs ~8 ms, which every process paid on import. */
function graphemes(text: string): string[] {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  return Array.from(segmenter.segment(text), (s) => s.segment);
}
const WIDE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Extended_Pictographic}\u3000-\u303F\uFF00-\uFFEF]/u;

/** Greedy word wrap by estimated width; words longer than a line (or unspaced scripts) break between graphemes. */
function wrap(prompt: string, lineUnits: number, maxLines: number): string[] {
  const lines: string[] = [];
  let line = "";
  let units = 0;
  const flush = () => {
    lines.push(line);
    line = "";
    units = 0;
  };
  for (const word of prompt.split(/\s+/).filter(Boolean)) {
    const clusters = graphemes(word);
    const wordUnits = clusters.reduce((sum, c) => sum + width(c), 0);
    if (units > 0 && units + 1 + wordUnits <= lineUnits) {
      line += ` ${word}`;
      units += 1 + wordUnits;
      continue;
    }
    if (units > 0) flush();
    for (const cluster of clusters) {
      if (units + width(cluster) > lineUnits) flush();
      line += cluster;
      units += width(cluster);
    }
  }
  if (units > 0) flush();
  if (lines.length > maxLines) {
    lines.length = maxLines;
    lines[maxLines - 1] = `${graphemes(lines[maxLines - 1]!).slice(0, -1).join("")}…`;
  }
  return lines;
}

function width(cluster: string): number {
  if (WIDE.test(cluster)) return 2;
  // Capitals are about a third wider than the lowercase letters a unit is sized for.
  return /^[A-Z]$/.test(cluster) ? 1.35 : 1;
}

/** Escapes markup and drops what XML 1.0 cannot hold at all (control characters, lone surrogates). */
function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
