/// <reference lib="dom" />
// The review page in the browser (SPEC §13): one script for `imagegen review`, Vite's
// `/__imagegen/` and the static `imagegen report`. Plain DOM, no library: the data is the JSON
// embedded in the page, every change is a POST that answers with the data as it is now.
import type { ReviewAnswer, ReviewCandidate, ReviewData, ReviewImage, ReviewStateName } from "../review-types.js";

type Child = Node | string | boolean | undefined | null | readonly Child[];

/** An element with attributes (`on…` functions become listeners) and children. */
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, unknown> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value as EventListener);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of (children as unknown[]).flat(Infinity) as Child[]) {
    if (child instanceof Node || typeof child === "string") element.append(child);
  }
  return element;
}

const STATES: ReviewStateName[] = ["approved", "unreviewed", "pending"];
const KEYS: [string, string][] = [
  ["j / k", "next / previous image"],
  ["1–9", "pick a candidate"],
  ["a", "approve the picked candidate (the lock pins it)"],
  ["r", "re-roll: make new candidates (asks first: they are paid generations)"],
  ["u", "undo the last change to this image"],
  ["?", "this help"],
];

let data = JSON.parse(document.getElementById("imagegen-data")!.textContent!) as ReviewData;
const token = document.querySelector<HTMLMetaElement>('meta[name="imagegen-token"]')?.content;
const view = { text: "", state: "all" as ReviewStateName | "all", open: undefined as string | undefined, picked: new Map<string, number>(), compare: new Map<string, [number, number]>(), busy: false };

const live = () => data.mode === "live" && token !== undefined;

// ── The page's frame: built once, so that focus and typed text survive each update ──────────────

const status = h("p", { id: "status", role: "status", "aria-live": "polite" });
const summary = h("p", { class: "summary" });
const banner = h("p", { class: "banner" });
const filterInput = h("input", { id: "filter", type: "search", placeholder: "prompt, file, parameter…", autocomplete: "off", oninput: () => ((view.text = filterInput.value), render()) });
const stateSelect = h(
  "select",
  { id: "state-filter", onchange: () => ((view.state = stateSelect.value as typeof view.state), render()) },
  h("option", { value: "all" }, "every state"),
  STATES.map((state) => h("option", { value: state }, state)),
);
const list = h("ul", { class: "image-list" });
const detail = h("section", { id: "detail", "aria-label": "The open image" });
const footer = h("footer");

const rerollCount = h("input", { id: "reroll-count", type: "number", min: "1", max: "9", value: "1", oninput: () => describeReroll() });
const rerollText = h("p", { id: "reroll-text" });
const rerollStart = h("button", { type: "submit", value: "start", class: "primary", autofocus: true }, "Start 1 paid generation");
const rerollDialog = h(
  "dialog",
  { id: "reroll-dialog", "aria-labelledby": "reroll-title" },
  h(
    "form",
    { method: "dialog", onsubmit: (event: SubmitEvent) => startReroll(event) },
    h("h2", { id: "reroll-title" }, "Re-roll"),
    rerollText,
    h("p", {}, h("label", { for: "reroll-count" }, "New candidates "), rerollCount),
    h("p", { class: "buttons" }, rerollStart, h("button", { type: "submit", value: "cancel" }, "Cancel")),
  ),
);
const helpDialog = h(
  "dialog",
  { id: "help-dialog", "aria-labelledby": "help-title" },
  h(
    "form",
    { method: "dialog" },
    h("h2", { id: "help-title" }, "Keys"),
    h("dl", { class: "keys" }, KEYS.map(([key, what]) => [h("dt", {}, h("kbd", {}, key)), h("dd", {}, what)])),
    h("p", {}, "Every button does the same with the mouse or Tab and Enter."),
    h("p", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Close")),
  ),
);

document.body.append(
  h(
    "header",
    {},
    h("h1", {}, data.title),
    summary,
    banner,
    h(
      "form",
      { class: "filters", role: "search", onsubmit: (event: Event) => event.preventDefault() },
      h("label", { for: "filter" }, "Filter "),
      filterInput,
      h("label", { for: "state-filter" }, " State "),
      stateSelect,
      h("button", { type: "button", "aria-keyshortcuts": "?", onclick: () => helpDialog.showModal() }, "Keys (?)"),
    ),
  ),
  h("div", { class: "layout" }, h("nav", { "aria-label": "Images" }, list), detail),
  status,
  footer,
  rerollDialog,
  helpDialog,
);

// ── What is shown ─────────────────────────────────────────────────────────────────────────────────

function shown(): ReviewImage[] {
  const words = view.text.toLowerCase().split(/\s+/).filter(Boolean);
  return data.images.filter((image) => {
    if (view.state !== "all" && image.state !== view.state) return false;
    const haystack = [image.name, image.prompt, image.finalPrompt, image.key, image.state, ...image.usedIn.flatMap((use) => [use.where, use.detail]), ...image.parameters.flat(), ...image.inputs.map((input) => input.path)]
      .join("\n")
      .toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

function openImage(): ReviewImage | undefined {
  const images = shown();
  return images.find((image) => image.key === view.open) ?? images[0];
}

function pickedOf(image: ReviewImage): ReviewCandidate | undefined {
  const number = view.picked.get(image.key);
  return image.candidates.find((candidate) => candidate.number === number) ?? image.candidates.find((candidate) => candidate.pinned) ?? image.candidates[0];
}

function label(image: ReviewImage): string {
  return image.name ?? image.prompt;
}

function render(): void {
  const counts = STATES.map((state) => `${data.images.filter((image) => image.state === state).length} ${state}`);
  summary.textContent = `${data.images.length} image${data.images.length === 1 ? "" : "s"} in use: ${counts.join(", ")}.${data.reviewRequired ? " Review is required: imagegen check fails until every image is approved." : ""}`;
  banner.textContent =
    data.mode === "report"
      ? `A report written by imagegen report at ${data.generatedAt}: read-only. Approve in imagegen review.`
      : data.mode === "read-only"
        ? `Read-only: ${data.readOnlyReason ?? "nothing can be changed here"}.`
        : "";
  banner.hidden = banner.textContent === "";

  const images = shown();
  const open = openImage();
  view.open = open?.key;
  list.replaceChildren(
    ...images.map((image) => {
      const pinned = image.candidates.find((candidate) => candidate.pinned) ?? image.candidates[0];
      const thumb = pinned?.previews[0];
      return h(
        "li",
        { "data-key": image.key, "data-state": image.state },
        h(
          "button",
          { type: "button", "aria-current": image.key === open?.key ? "true" : undefined, onclick: () => show(image.key) },
          thumb ? h("img", { src: thumb.src, width: thumb.width, height: thumb.height, alt: "" }) : h("span", { class: "no-thumb" }),
          h("span", { class: "name" }, label(image)),
          h("span", { class: `state state-${image.state}` }, image.state),
        ),
      );
    }),
  );
  if (images.length === 0) list.append(h("li", { class: "muted" }, data.images.length === 0 ? "No images in use." : "No image matches the filter."));

  detail.replaceChildren(h("div", {}, open ? imageDetail(open) : h("p", { class: "muted" }, "Nothing to show.")));
  footer.replaceChildren(
    ...(data.unused.length > 0
      ? [h("h2", {}, "Not in use"), h("p", { class: "muted" }, "Kept, so that a revert or the same prompt pays nothing; imagegen prune removes them from the store."), h("ul", {}, data.unused.map((unused) => h("li", {}, h("code", {}, unused.key), " ", unused.prompt)))]
      : []),
    ...(data.errors.length > 0 ? [h("h2", {}, "Errors"), h("ul", { class: "errors" }, data.errors.map((error) => h("li", {}, error)))] : []),
  );
}

function imageDetail(image: ReviewImage): Child[] {
  const picked = pickedOf(image);
  const canChange = live() && !view.busy;
  const approveLabel = picked ? `Approve candidate ${picked.number}` : "Approve";
  const toolbar = h(
    "div",
    { class: "toolbar", role: "toolbar", "aria-label": "Actions" },
    live() && [
      h("button", { type: "button", class: "primary", "aria-keyshortcuts": "a", disabled: !canChange || !picked?.available || (picked.pinned && picked.approved), onclick: () => approve() }, `${approveLabel} (a)`),
      h("button", { type: "button", "aria-keyshortcuts": "r", disabled: !canChange || data.cannotGenerate !== undefined, title: data.cannotGenerate, onclick: () => openReroll() }, "Re-roll… (r)"),
      h("button", { type: "button", "aria-keyshortcuts": "u", disabled: !canChange, onclick: () => undo() }, "Undo (u)"),
    ],
    h("button", { type: "button", "aria-keyshortcuts": "k", onclick: () => step(-1) }, "Previous (k)"),
    h("button", { type: "button", "aria-keyshortcuts": "j", onclick: () => step(1) }, "Next (j)"),
  );
  const [left, right] = compared(image);
  return [
    h("h2", { id: "open-title", tabindex: "-1" }, label(image)),
    h(
      "p",
      { class: "badges" },
      h("span", { class: `state state-${image.state}`, "data-state": image.state }, image.state),
      image.status !== "ok" && h("span", { class: "status" }, image.status),
      image.problem && h("span", { class: "problem" }, image.problem),
    ),
    toolbar,
    h("h3", {}, `Candidates (${image.candidates.length})`),
    image.candidates.length === 0
      ? h("p", { class: "muted" }, "Not generated yet: imagegen generate (or a build) makes its first candidate.")
      : h("div", { class: "candidates" }, image.candidates.map((candidate) => candidateFigure(image, candidate, candidate.number === picked?.number))),
    image.candidates.length > 1 && [
      h("h3", {}, "Compare"),
      h(
        "p",
        { class: "compare-controls" },
        h("label", { for: "compare-left" }, "Left "),
        compareSelect("compare-left", image, left, (n) => view.compare.set(image.key, [n, right])),
        h("label", { for: "compare-right" }, " Right "),
        compareSelect("compare-right", image, right, (n) => view.compare.set(image.key, [left, n])),
      ),
      h(
        "div",
        { class: "two-up" },
        [left, right].map((number) => {
          const candidate = image.candidates.find((c) => c.number === number)!;
          return h("div", { class: "side", "data-number": number }, h("h4", {}, `Candidate ${number}`, tags(candidate)), previews(image, candidate));
        }),
      ),
    ],
    h("h3", {}, "Prompt and parameters"),
    h("p", { class: "prompt" }, image.prompt),
    image.finalPrompt !== image.prompt && h("p", { class: "muted" }, `Sent as: ${image.finalPrompt}`),
    h("table", { class: "parameters" }, h("tbody", {}, image.parameters.map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, value))))),
    image.inputs.length > 0 && [
      h("h3", {}, "Inputs"),
      h(
        "ul",
        { class: "inputs" },
        image.inputs.map((input) =>
          h("li", {}, input.picture && h("img", { src: input.picture.src, width: input.picture.width, alt: `${input.role} ${input.path}` }), h("span", {}, h("strong", {}, input.role), " ", h("code", {}, input.path))),
        ),
      ),
    ],
    h("h3", {}, "Used in"),
    h(
      "ul",
      { class: "uses" },
      image.usedIn.map((use) => h("li", {}, h("code", {}, use.where), use.detail && ` ${use.detail}`, h("span", { class: "muted" }, ` (${image.crops[use.crop]?.label ?? ""})`))),
    ),
  ];
}

function tags(candidate: ReviewCandidate): Node[] {
  return [candidate.pinned && "pinned", candidate.approved && "approved", candidate.pending && "pending", !candidate.available && "not here: imagegen pull"]
    .filter((tag): tag is string => typeof tag === "string")
    .map((tag) => h("span", { class: `tag tag-${tag.split(":")[0]!.replace(/\s+/g, "-")}` }, tag));
}

function previews(image: ReviewImage, candidate: ReviewCandidate): Node[] {
  return image.crops.map((crop, i) => {
    const picture = candidate.previews[i];
    return h(
      "figure",
      { class: "preview" },
      picture ? h("img", { src: picture.src, width: picture.width, height: picture.height, alt: `Candidate ${candidate.number}, ${crop.label}` }) : h("div", { class: "no-thumb" }, "no bytes here"),
      h("figcaption", {}, `${crop.label} · ${crop.width}×${crop.height} ${crop.formats.join("/")}`),
    );
  });
}

function candidateFigure(image: ReviewImage, candidate: ReviewCandidate, picked: boolean): HTMLElement {
  return h(
    "article",
    { class: `candidate${picked ? " picked" : ""}`, "data-number": candidate.number, "data-sha256": candidate.sha256, "aria-label": `Candidate ${candidate.number}` },
    h(
      "header",
      {},
      h("button", { type: "button", "aria-pressed": picked ? "true" : "false", "aria-keyshortcuts": candidate.number <= 9 ? String(candidate.number) : undefined, onclick: () => pick(candidate.number) }, `Pick ${candidate.number}`),
      tags(candidate),
    ),
    previews(image, candidate),
    h(
      "p",
      { class: "meta" },
      `sha256 ${candidate.sha256.slice(0, 12)}…`,
      candidate.width !== undefined && ` · ${candidate.width}×${candidate.height}`,
      candidate.createdAt && ` · made ${candidate.createdAt.slice(0, 16).replace("T", " ")}`,
      candidate.provider && ` · ${candidate.provider}`,
      candidate.price && ` · ${candidate.price}`,
    ),
  );
}

/** The two candidates of the two-up: as chosen, else the pinned one beside the picked one (or the newest). */
function compared(image: ReviewImage): [number, number] {
  const chosen = view.compare.get(image.key);
  const exists = (n: number) => image.candidates.some((candidate) => candidate.number === n);
  if (chosen && exists(chosen[0]) && exists(chosen[1])) return chosen;
  const pinned = image.candidates.find((candidate) => candidate.pinned)?.number ?? 1;
  const picked = pickedOf(image)?.number;
  const other = picked !== undefined && picked !== pinned ? picked : (image.candidates.findLast((candidate) => candidate.number !== pinned)?.number ?? pinned);
  return [pinned, other];
}

function compareSelect(id: string, image: ReviewImage, value: number, set: (n: number) => void): HTMLSelectElement {
  const select = h(
    "select",
    { id, onchange: () => (set(Number(select.value)), render()) },
    image.candidates.map((candidate) => h("option", { value: candidate.number, selected: candidate.number === value }, `Candidate ${candidate.number}`)),
  );
  return select;
}

// ── Actions ───────────────────────────────────────────────────────────────────────────────────────

function show(key: string): void {
  view.open = key;
  render();
  document.getElementById("open-title")?.focus({ preventScroll: true });
}

function step(delta: number): void {
  const images = shown();
  if (images.length === 0) return;
  const index = images.findIndex((image) => image.key === openImage()?.key);
  const next = images[Math.min(images.length - 1, Math.max(0, index + delta))]!;
  show(next.key);
}

function pick(number: number): void {
  const image = openImage();
  if (!image?.candidates.some((candidate) => candidate.number === number)) return;
  view.picked.set(image.key, number);
  view.compare.delete(image.key);
  render();
  say(`Picked candidate ${number}${live() ? ": a approves it" : ""}.`);
}

async function approve(): Promise<void> {
  const image = openImage();
  const candidate = image && pickedOf(image);
  if (!image || !candidate || !live()) return;
  if (candidate.pinned && candidate.approved && image.state === "approved") return say(`Candidate ${candidate.number} is approved already.`);
  await send("api/approve", { key: image.key, sha256: candidate.sha256, revision: image.revision });
}

function describeReroll(): void {
  const image = openImage();
  const n = Math.min(9, Math.max(1, Math.round(Number(rerollCount.value)) || 1));
  const paid = `${n} paid generation${n === 1 ? "" : "s"}`;
  const left = data.generationsLeft === null ? "" : ` (maxGenerations leaves ${data.generationsLeft} in this session)`;
  const cost = image ? `, estimated at ${image.rerollCost[n - 1]}` : "";
  rerollText.textContent = image ? `New candidates of “${label(image)}”: this starts ${paid}${cost}${left}. The image stays as it is until you approve one.` : "";
  rerollStart.textContent = `Start ${paid}`;
}

function openReroll(): void {
  if (!live() || view.busy || data.cannotGenerate !== undefined || !openImage()) return;
  rerollCount.value = "1";
  describeReroll();
  rerollDialog.showModal();
  rerollStart.focus();
}

async function startReroll(event: SubmitEvent): Promise<void> {
  const submitter = event.submitter as HTMLButtonElement | null;
  const image = openImage();
  if (submitter?.value !== "start" || !image) return;
  const n = Math.min(9, Math.max(1, Math.round(Number(rerollCount.value)) || 1));
  say(`Starting ${n} paid generation${n === 1 ? "" : "s"} for “${label(image)}”…`);
  await send("api/reroll", { key: image.key, n, revision: image.revision });
}

async function undo(): Promise<void> {
  const image = openImage();
  if (!image || !live()) return;
  await send("api/undo", { key: image.key });
}

async function send(path: string, body: Record<string, unknown>): Promise<void> {
  if (view.busy) return;
  view.busy = true;
  render();
  try {
    const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-Imagegen-Token": token! }, body: JSON.stringify(body) });
    const text = await response.text();
    let answer: ReviewAnswer | undefined;
    try {
      answer = JSON.parse(text) as ReviewAnswer;
    } catch {
      answer = undefined;
    }
    if (answer?.data) data = answer.data;
    say(answer?.message ?? text.trim() ?? `HTTP ${response.status}`, !response.ok);
  } catch (error) {
    say(`The review server did not answer: ${(error as Error).message}`, true);
  } finally {
    view.busy = false;
    render();
  }
}

/** Another tab, a command or a git pull may have changed the lock: the data is read again when the page is looked at. */
async function refresh(): Promise<void> {
  if (data.mode === "report" || view.busy) return;
  const response = await fetch("api/data").catch(() => undefined);
  if (!response?.ok) return;
  data = (await response.json()) as ReviewData;
  render();
}

function say(message: string, error = false): void {
  status.textContent = message;
  status.classList.toggle("error", error);
}

// ── Keys ──────────────────────────────────────────────────────────────────────────────────────────

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  if (document.querySelector("dialog[open]")) return;
  const target = event.target as HTMLElement;
  if (target.closest("input, select, textarea")) return;
  const key = event.key;
  if (key === "j") step(1);
  else if (key === "k") step(-1);
  else if (/^[1-9]$/.test(key)) pick(Number(key));
  else if (key === "a") void approve();
  else if (key === "r") openReroll();
  else if (key === "u") void undo();
  else if (key === "?") helpDialog.showModal();
  else return;
  event.preventDefault();
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") void refresh();
});

render();
