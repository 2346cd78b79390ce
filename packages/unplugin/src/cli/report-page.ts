/** What one card of the report shows. */
export interface ReportCard {
  key: string;
  /** `ok`, `missing`, `stale`, `unlocked`, `orphaned` (locked, unused) or `unused` (only stored). */
  status: string;
  /** The manifest name, when a manifest declares the image. */
  name: string | undefined;
  /** The prompt as written, and the final prompt sent to the model when a style changed it. */
  prompt: string;
  finalPrompt: string;
  problem: string | undefined;
  /** `images/<key>.webp`, relative to the page, with its pixel size. */
  thumbnail: { src: string; width: number; height: number } | undefined;
  /** Name → value, in display order. */
  parameters: [string, string][];
  /** The files an edit is made from, with a small picture of each when it can be read. */
  inputs: { role: string; path: string; sha256: string; thumbnail: ReportCard["thumbnail"] }[];
  /** Pixel size of the original. */
  size: string | undefined;
  /** `src/main.ts:3:20`, with the import or manifest name. */
  usedIn: { where: string; detail: string | undefined }[];
}

export interface ReportPage {
  title: string;
  generatedAt: string;
  summary: [string, number][];
  images: ReportCard[];
  orphaned: ReportCard[];
}

/** A self-contained page (no script, no external file but the thumbnails) that a reviewer opens beside a pull request. */
export function renderReportPage(page: ReportPage): string {
  const summary = page.summary.map(([label, n]) => `<li><strong>${n}</strong> ${escape(label)}</li>`).join("");
  const orphaned =
    page.orphaned.length === 0
      ? ""
      : `<h2>Not in use <small>(<code>imagegen prune</code> removes them)</small></h2>
<section class="grid">${page.orphaned.map(card).join("\n")}</section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(page.title)}</title>
<style>
  :root { color-scheme: light dark; --line: #8884; --muted: #888; }
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1280px; padding: 24px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 18px; margin: 32px 0 12px; }
  small, .muted { color: var(--muted); font-weight: normal; }
  ul.summary { display: flex; flex-wrap: wrap; gap: 16px; list-style: none; padding: 0; margin: 12px 0 24px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 16px; }
  article { border: 1px solid var(--line); border-radius: 8px; overflow: hidden; display: flex; flex-direction: column; }
  .thumb { aspect-ratio: 1; background: repeating-conic-gradient(#8881 0 25%, transparent 0 50%) 0 0 / 16px 16px;
    display: flex; align-items: center; justify-content: center; }
  .thumb img { max-width: 100%; max-height: 100%; height: auto; display: block; }
  .thumb .none { color: var(--muted); padding: 16px; text-align: center; }
  .body { padding: 12px; display: flex; flex-direction: column; gap: 8px; }
  .prompt { font-size: 15px; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
  .status { display: inline-block; border-radius: 4px; padding: 0 6px; font-size: 12px; font-weight: 600; text-transform: uppercase; }
  .status-ok { background: #2a7; color: #fff; }
  .status-missing, .status-stale { background: #d33; color: #fff; }
  .status-unlocked, .status-orphaned, .status-unused { background: #d90; color: #000; }
  table { border-collapse: collapse; font-size: 12px; }
  th { text-align: left; font-weight: 500; color: var(--muted); padding-right: 12px; vertical-align: top; }
  td { overflow-wrap: anywhere; }
  code { font-size: 12px; }
  .problem { color: #d33; margin: 0; }
  .inputs { display: flex; flex-wrap: wrap; gap: 8px; margin: 0; padding: 0; list-style: none; font-size: 12px; }
  .inputs li { display: flex; flex-direction: column; gap: 2px; max-width: 120px; overflow-wrap: anywhere; }
  .inputs img { max-width: 120px; height: auto; border: 1px solid var(--line); }
  ul.uses { margin: 0; padding-left: 18px; font-size: 12px; }
</style>
</head>
<body>
<h1>${escape(page.title)}</h1>
<div class="muted">Generated ${escape(page.generatedAt)} by <code>imagegen report</code></div>
<ul class="summary">${summary}</ul>
<section class="grid">
${page.images.map(card).join("\n")}
</section>
${orphaned}
</body>
</html>
`;
}

function card(image: ReportCard): string {
  const thumbnail = image.thumbnail
    ? `<img src="${escape(image.thumbnail.src)}" width="${image.thumbnail.width}" height="${image.thumbnail.height}" alt="${escape(image.prompt)}">`
    : `<div class="none">${image.status === "missing" ? "Not generated yet: <code>imagegen generate</code>" : "No preview"}</div>`;
  const title = image.name ? `<strong>${escape(image.name)}</strong> ` : "";
  const styled = image.finalPrompt !== image.prompt ? `<div class="muted">Sent as: ${escape(image.finalPrompt)}</div>` : "";
  const rows = [...image.parameters, ["key", image.key] as [string, string], ...(image.size ? [["pixels", image.size] as [string, string]] : [])];
  const inputs =
    image.inputs.length === 0
      ? ""
      : `<ul class="inputs">${image.inputs
          .map(({ role, path, sha256, thumbnail: picture }) => {
            const img = picture ? `<img src="${escape(picture.src)}" width="${picture.width}" height="${picture.height}" alt="${escape(role)} ${escape(path)}">` : "";
            return `<li>${img}<span><strong>${escape(role)}</strong> <code>${escape(path)}</code></span><span class="muted">sha256 ${escape(sha256.slice(0, 12))}…</span></li>`;
          })
          .join("")}</ul>`;
  const uses =
    image.usedIn.length === 0
      ? ""
      : `<ul class="uses">${image.usedIn
          .map(({ where, detail }) => `<li><code>${escape(where)}</code>${detail ? ` <span class="muted">${escape(detail)}</span>` : ""}</li>`)
          .join("")}</ul>`;
  return `<article id="${escape(image.key)}" data-status="${escape(image.status)}">
  <div class="thumb">${thumbnail}</div>
  <div class="body">
    <div>${title}<span class="status status-${escape(image.status)}">${escape(image.status)}</span></div>
    <p class="prompt">${escape(image.prompt)}</p>${styled}
    ${image.problem ? `<p class="problem">${escape(image.problem)}</p>` : ""}
    ${inputs}
    <table>${rows.map(([name, value]) => `<tr><th>${escape(name)}</th><td>${escape(value)}</td></tr>`).join("")}</table>
    ${uses}
  </div>
</article>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
