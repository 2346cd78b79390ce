// The browser side of the dev server: dev modules import it to swap an image's URLs on the page.
/** The id dev modules import their HMR helper from (resolved by the plugin). */
export const HMR_HELPER_ID = "virtual:imagegen/hmr";

/** The HMR helper's code: swaps an image's URLs in every `<img>` and `<source>` of the page. */
export const HMR_HELPER_CODE = `
function entries(srcset) {
  return (srcset || "").split(", ").filter(Boolean).map((part) => {
    const space = part.lastIndexOf(" ");
    return space < 0 ? [part, ""] : [part.slice(0, space), part.slice(space + 1)];
  });
}

export function replaceImages(before, after) {
  if (typeof document === "undefined" || !before || !after) return;
  const urls = new Map();
  const add = (from, to) => { if (from && to && from !== to) urls.set(from, to); };
  add(before.src, after.src);
  for (const [format, srcset] of Object.entries(before.sources || {})) {
    const next = entries((after.sources || {})[format] || after.srcset);
    entries(srcset).forEach(([from, descriptor], i) => {
      const match = next.find(([, d]) => d === descriptor) || next[Math.min(i, next.length - 1)];
      add(from, match ? match[0] : after.src);
    });
  }
  if (urls.size === 0) return;
  for (const element of document.querySelectorAll("img, source")) {
    const src = element.getAttribute("src");
    if (src && urls.has(src)) element.setAttribute("src", urls.get(src));
    const srcset = element.getAttribute("srcset");
    if (!srcset) continue;
    const replaced = srcset.split(",").map((part) => {
      const [url, ...rest] = part.trim().split(/\\s+/);
      return [urls.get(url) || url, ...rest].join(" ");
    }).join(", ");
    if (replaced !== srcset) element.setAttribute("srcset", replaced);
  }
  window.dispatchEvent(new CustomEvent("imagegen:update", { detail: { before, after } }));
}
`;
