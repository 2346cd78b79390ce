// What the review page shows, as the server (or `imagegen report`) hands it to the page: one JSON
// document embedded in the HTML. Types only: the page's script imports them too.

/** `approved`, `unreviewed` or `pending` (SPEC §13), as `@imagegen/core`'s `ReviewState`. */
export type ReviewStateName = "approved" | "unreviewed" | "pending";

export interface ReviewData {
  title: string;
  generatedAt: string;
  /**
   * `live`: the page may approve, re-roll and undo; `read-only`: served, but nothing can be changed
   * (`readOnlyReason` says why); `report`: static files written by `imagegen report`.
   */
  mode: "live" | "read-only" | "report";
  readOnlyReason?: string;
  /** The config's `review: "required"`: `imagegen check` fails until every image is approved. */
  reviewRequired: boolean;
  /** Why a re-roll cannot start here (frozen, no API key, a throwaway provider), if it cannot. */
  cannotGenerate?: string;
  /** Paid generations this server may still start (`maxGenerations`); `null` when there is no cap. */
  generationsLeft: number | null;
  images: ReviewImage[];
  /** Lock or store entries nothing uses (kept so that a revert pays nothing). */
  unused: { key: string; prompt: string }[];
  /** Bad imports and manifests: their images are not on the page. */
  errors: string[];
}

export interface ReviewImage {
  key: string;
  /** The manifest name, when a manifest declares the image. */
  name?: string;
  /** The prompt as written, and as sent to the model (after a style). */
  prompt: string;
  finalPrompt: string;
  state: ReviewStateName;
  /** The store's view (`ok`, `missing`, `stale`, `unlocked`), as `imagegen check` reports it. */
  status: string;
  problem?: string;
  /** The lock entry as this page saw it: a change asked against an older one is refused. */
  revision: string;
  /** Name → value, in display order. */
  parameters: [string, string][];
  /** The files an edit is made from, each with a small picture when it can be read. */
  inputs: { role: string; path: string; sha256: string; picture?: Picture }[];
  /** Every import or manifest entry that uses the image, and which of `crops` it ships. */
  usedIn: { where: string; detail?: string; crop: number }[];
  /** Each distinct `aspect`/`fit` the image ships with: every candidate is shown in each. */
  crops: Crop[];
  /** Oldest first; `number` is what `imagegen approve --candidate n` and the keys 1–9 name. */
  candidates: ReviewCandidate[];
  /** What 1…9 new candidates would cost, at index n − 1 ("unknown" without a price: docs/cost.md). */
  rerollCost: string[];
}

export interface Crop {
  /** `4:3, cover` or `as made`. */
  label: string;
  /** Pixel size of the largest variant shipped, and its formats. */
  width: number;
  height: number;
  formats: string[];
}

export interface ReviewCandidate {
  number: number;
  sha256: string;
  /** The one the lock pins (what ships), approved by a person, or new and undecided. */
  pinned: boolean;
  approved: boolean;
  pending: boolean;
  /** False when neither the local nor the remote store has its bytes (`imagegen pull`). */
  available: boolean;
  createdAt?: string;
  chosenAt?: string;
  provider?: string;
  width?: number;
  height?: number;
  /** What this original cost ("unknown" when no price is known: docs/cost.md). */
  price?: string;
  /** One per crop, in `crops` order: the candidate as it ships, rendered by the engine's pipeline. */
  previews: (Picture | undefined)[];
}

export interface Picture {
  /** Relative to the page. */
  src: string;
  width: number;
  height: number;
}

/** What every changing request answers: the page as it is now, and what happened. */
export interface ReviewAnswer {
  ok: boolean;
  message: string;
  data?: ReviewData;
}
