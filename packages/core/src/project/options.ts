import type { AiSdkImageModel } from "../generate/ai-sdk-model.js";
import type { Provider } from "../generate/provider.js";
import type { ImageOptions, ImageSize } from "../spec/spec.js";
import type { PriceList } from "../cost/price.js";
import type { RemoteStore } from "../store/remote.js";

/** Options of `imagegen.config.ts` and of the bundler plugin (the plugin's override the file's). */
export interface ImagegenOptions {
  /**
   * `"onemin"` (the 1min.ai API), `"placeholder"` (offline images that show the prompt), an AI SDK
   * image model (`google.image("gemini-3-pro-image")`, `openai.image("gpt-image-1.5")`: the provider
   * package reads its own API key), or a custom {@link Provider}. A model names every key
   * `<provider>:<modelId>` (docs/providers.md).
   * @default "onemin" when an API key is set, else "placeholder"
   */
  provider?: "onemin" | "placeholder" | Provider | AiSdkImageModel;
  /**
   * The 1min.ai API key. Never written to a bundle, a log, the store or the lock.
   * @default process.env.ONEMIN_API_KEY
   */
  apiKey?: string;
  /**
   * Base URL of the 1min.ai API (or of the emulator).
   * @default process.env.ONEMIN_API_URL ?? "https://api.1min.ai"
   */
  apiUrl?: string;
  /**
   * The model every image uses unless it sets `model`. With an AI SDK model as `provider`, that
   * model's `<provider>:<modelId>`, and no other.
   * @default "gemini-3-pro-image-preview" (with an AI SDK model: its `<provider>:<modelId>`)
   */
  model?: string;
  /**
   * Defaults for every image (any field of a manifest image but `prompt`).
   * @default { size: "1K", format: ["webp", "jpeg"], fit: "cover", placeholder: "none" }
   */
  defaults?: Omit<ImageOptions, "prompt">;
  /**
   * Style presets: `?style=name` appends the text to the prompt.
   * @default {}
   */
  styles?: Record<string, string>;
  /**
   * Folder of originals and their metadata, relative to the root. Safe to commit.
   * @default ".imagegen"
   */
  store?: string;
  /**
   * The lockfile, relative to the root.
   * @default "imagegen.lock.json"
   */
  lockfile?: string;
  /**
   * Cache of derived variants (sharp output), relative to the root.
   * @default "node_modules/.cache/imagegen"
   */
  cacheDir?: string;
  /**
   * Size cap of the derived cache, in bytes. After each build the least recently used renditions
   * are removed until the cache fits (those the build used stay); `imagegen cache prune` does the same.
   * @default 1073741824 (1 GiB)
   */
  cacheMaxBytes?: number;
  /**
   * How many generations run at the API at once. A slot is freed as soon as the API has made the
   * image, so that its download overlaps the next request; at most twice this many generations are
   * in flight with their downloads.
   * @default 4
   */
  concurrency?: number;
  /**
   * The most paid generations one run may start; a run that needs more fails before it starts any.
   * @default Infinity
   */
  maxGenerations?: number;
  /**
   * The most one run may spend, in {@link currency}: a run whose estimate is higher fails before it
   * starts any paid generation, and each generation reserves its price before its request. With
   * `maxCost` set, an image whose price is unknown is refused until its model has one in
   * {@link prices}. An attempt that may have been charged counts as spent (docs/cost.md).
   * @default Infinity
   */
  maxCost?: number;
  /**
   * The unit of {@link maxCost}, {@link prices} and every price shown: `"USD"` (imagegen's own
   * prices and those computed from token usage are dollars) or any other name, such as `"credits"`
   * for 1min.ai, in which only `prices` count and every other price is unknown.
   * @default "USD"
   */
  currency?: string;
  /**
   * What one image of a model costs, in {@link currency}, by model as keys name it
   * (`"gemini-3-pro-image-preview"` for 1min.ai, `"google:gemini-3-pro-image"` for an AI SDK
   * model): one price for every size, or `{ "1K": …, "2K": …, "4K": … }`. They are the estimate
   * before a generation, and its price when the provider reports none; they take the place of
   * imagegen's built-in table (docs/cost.md).
   * @default {} (1min.ai's credit prices are not documented: set them for its model)
   */
  prices?: Record<string, number | Partial<Record<ImageSize, number>>>;
  /**
   * Never call a provider: a missing original is an error.
   * @default process.env.IMAGEGEN_FROZEN === "1"
   */
  frozen?: boolean;
  /**
   * A missing original with no API key is an error rather than a placeholder.
   * @default Boolean(process.env.CI)
   */
  strict?: boolean;
  /**
   * Globs of prompt manifests, relative to the root, that the CLI reads (less the always-ignored
   * folders and what `.gitignore` files exclude).
   * @default ["**\/*.prompts.{yaml,yml}"]
   */
  manifests?: string[];
  /**
   * Globs of source files that the CLI scans for `gen:` imports, relative to the root. Folders
   * such as node_modules, dist, build, .next, .nuxt, .output, .svelte-kit, .astro and coverage are
   * never scanned, nor what the project's `.gitignore` files exclude. The build warns about an
   * image imported from a file outside them.
   * @default ["**\/*.{js,jsx,ts,tsx,mjs,cjs,mts,cts,vue,svelte,astro,mdx,md,html}"]
   */
  sources?: string[];
  /**
   * Per-request timeout of a generation, in milliseconds.
   * @default 180000
   */
  timeoutMs?: number;
  /**
   * Attempts in total for a generation whose failure is transient (timeouts, connection errors,
   * 408, 429, 5xx), the first one included.
   * @default 4
   */
  attempts?: number;
  /**
   * The old name of `attempts`: it always counted attempts, not retries. Still read, with a warning.
   * @deprecated use `attempts`
   */
  retries?: number;
  /**
   * Longest `Retry-After` honoured, in milliseconds: the API's wait is kept as it is up to this
   * bound, and past it the generation fails at once, saying how long the API asked to wait.
   * @default 600000 (10 minutes)
   */
  maxRetryAfterMs?: number;
  /**
   * Wait before the first retry of a transient failure, in milliseconds; it grows (with jitter)
   * for each further retry, and a `Retry-After` from the API wins. Image downloads are retried on
   * their own, from the same URL, with the same first wait: a paid generation is never repeated
   * because of its download.
   * @default 500
   */
  retryDelayMs?: number;
  /**
   * The largest download accepted, in bytes.
   * @default 64 MiB
   */
  maxDownloadBytes?: number;
  /**
   * Whether the images the 1min.ai provider makes are kept in the store and the lock. Against an
   * `apiUrl` other than 1min.ai's (the emulator, a test server) they are throwaway by default, like
   * the placeholder provider's, so that offline work never looks paid; set `true` for a relay of the
   * same model, or for a demo that should not pay its emulator twice. `IMAGEGEN_PERSISTENT=1` does the same.
   * @default true for https://api.1min.ai, false for any other apiUrl
   */
  persistent?: boolean;
  /**
   * A remote store shared by a team and its CI (SPEC §10): `"s3://bucket/prefix"` on AWS S3, R2,
   * MinIO or any S3-compatible server, configured by the standard AWS variables
   * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
   * `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`). A locked original that the local store lacks is
   * read from there, never paid for again, and each new original and rendition is uploaded there,
   * write-once (docs/store.md).
   * `{ url, write: false }` never uploads (nor does `IMAGEGEN_REMOTE_WRITE=0`, nor frozen mode).
   * @default process.env.IMAGEGEN_REMOTE (none when unset)
   */
  remote?: string | RemoteOption;
  /**
   * `"required"`: `imagegen check` fails on any image in use that a person has not approved
   * (`unreviewed`, or `pending` with new candidates undecided): the pull-request gate of
   * docs/review.md. Off by default, so that a project of one person is not slowed down.
   * @default "optional"
   */
  review?: "required" | "optional";
  /**
   * The project root, where the config, the store and the lock are.
   * @default the nearest folder at or above the bundler's root (the CLI: the current folder) that
   * holds `imagegen.config.*`, `imagegen.lock.json` or `package.json` (see `findProjectRoot`)
   */
  root?: string;
  /**
   * Where log lines go. Messages never contain the API key.
   * @default console
   */
  logger?: Logger;
}

export interface RemoteOption {
  /** `s3://bucket/prefix` */
  url: string;
  /**
   * Requests to the remote at once (uploads and downloads); each original is read from the store
   * only inside its upload's turn, so this also bounds the memory of `imagegen push`.
   * @default 16
   */
  concurrency?: number;
  /**
   * Upload new originals and renditions. Pull-request builds should not (docs/ci.md).
   * @default process.env.IMAGEGEN_REMOTE_WRITE !== "0", and never in frozen mode
   */
  write?: boolean;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** The options that decide keys (with `prompt`, `style` and the image's own parameters). */
export interface KeyOptions {
  model: string;
  /** Aspect ratios the provider's model makes natively (asked of it, and keyed); none for 1min.ai. */
  nativeAspects: readonly string[];
  defaults: Omit<ImageOptions, "prompt">;
  styles: Record<string, string>;
}

/** Every option with its default applied; paths absolute. */
export interface ResolvedOptions extends KeyOptions {
  root: string;
  /** The config file read, if any. */
  configFile: string | undefined;
  /**
   * The key options as the config file alone gives them: what the CLI computes keys with. They
   * differ from the resolved ones only where the plugin was given `model`, `defaults` or `styles`.
   */
  configKeyOptions: KeyOptions;
  /** Values no output may show: the API key in use (the option or ONEMIN_API_KEY) and the AI SDK providers' keys in the environment. */
  secrets: string[];
  provider: Provider;
  /** True when the provider came from the absence of a key (placeholder fallback). */
  usingFallbackPlaceholder: boolean;
  storeDir: string;
  lockfilePath: string;
  cacheDir: string;
  cacheMaxBytes: number;
  concurrency: number;
  maxGenerations: number;
  maxCost: number;
  currency: string;
  prices: PriceList;
  frozen: boolean;
  strict: boolean;
  manifests: string[];
  sources: string[];
  timeoutMs: number;
  attempts: number;
  maxRetryAfterMs: number;
  retryDelayMs: number;
  maxDownloadBytes: number;
  /** The remote store, when one is configured. */
  remote: RemoteStore | undefined;
  review: "required" | "optional";
  logger: Logger;
}
