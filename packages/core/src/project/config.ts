import { readdir } from "node:fs/promises";
import path from "node:path";
import { ImagegenError } from "../errors.js";
import type { ImagegenOptions, Logger, ResolvedOptions } from "./options.js";
import type { PriceList } from "../cost/price.js";
import { resolveProjectRoot } from "./root.js";
import { loadPlainConfig } from "./native-config.js";
import type { Provider } from "../generate/provider.js";
import { AI_SDK_KEY_VARIABLES, isAiSdkImageModel } from "../generate/ai-sdk-model.js";
import { createAiSdkProvider } from "../generate/ai-sdk.js";
import { DEFAULT_CACHE_MAX_BYTES } from "../store/derived-cache.js";
import { DEFAULT_MAX_RETRY_AFTER_MS } from "../generate/generate-with-retry.js";
import { DEFAULT_API_URL, createOneminProvider } from "../generate/onemin.js";
import { createPlaceholderProvider } from "../generate/placeholder.js";
import { DEFAULT_MANIFESTS, DEFAULT_SOURCES } from "./project-files.js";
import { describeValue, validateDefaults } from "../spec/image-options-schema.js";
import { DEFAULT_MODEL } from "../spec/spec.js";
import { RemoteStore, parseRemoteUrl } from "../store/remote.js";
import { USD, resolvePriceList } from "../cost/price.js";

/** Types `imagegen.config.ts`; returns its argument. */
export function defineConfig(config: ImagegenOptions): ImagegenOptions {
  return config;
}

export interface LoadedConfig {
  config: ImagegenOptions;
  /** Absolute path of the file read, if one was found. */
  file: string | undefined;
}

/**
 * Reads `imagegen.config.{ts,mts,js,mjs}` from the root (or `configFile`), with c12 so that a
 * TypeScript config needs no build step. `configFile: false` reads nothing.
 */
export async function loadConfigFile(root: string, configFile?: string | false): Promise<LoadedConfig> {
  if (configFile === false) return { config: {}, file: undefined };
  // c12 (and the TypeScript loader behind it) is imported only when there is a file to read.
  if (!configFile && !(await mayHaveConfigFile(root))) return { config: {}, file: undefined };
  const plain = configFile ? undefined : await loadPlainConfig(root);
  if (plain) return plain;
  try {
    const { loadConfig } = await import("c12");
    const loaded = await loadConfig<ImagegenOptions & Record<string, unknown>>({
      cwd: root,
      name: "imagegen",
      configFile: configFile ? path.resolve(root, configFile) : "imagegen.config",
      configFileRequired: Boolean(configFile),
      rcFile: false,
      globalRc: false,
      dotenv: false,
      packageJson: false,
      extend: false,
    });
    return { config: loaded.config ?? {}, file: loaded.configFile && loaded._configFile ? loaded._configFile : undefined };
  } catch (error) {
    const where = configFile ? path.resolve(root, configFile) : path.join(root, "imagegen.config.ts");
    throw new ImagegenError(`Could not load the imagegen config ${where}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Where c12 would find `imagegen.config.*`: the root, or its `.config/` folder (as
 * `imagegen.*` or `imagegen.config.*`). Any name that might be one counts; c12 then decides.
 */
async function mayHaveConfigFile(root: string): Promise<boolean> {
  const names = async (dir: string) => readdir(dir).catch(() => [] as string[]);
  if ((await names(root)).some((name) => name.startsWith("imagegen.config"))) return true;
  return (await names(path.join(root, ".config"))).some((name) => name.startsWith("imagegen."));
}

/** What a value of an option must be; `undefined` when it is. */
type OptionRule = (value: unknown) => string | undefined;

const STYLE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const CURRENCY = /^[A-Za-z]{1,16}$/;
const rule =
  (allowed: string, accepts: (value: unknown) => boolean): OptionRule =>
  (value) =>
    accepts(value) ? undefined : `must be ${allowed} (got ${describeValue(value)})`;
const text = rule("non-empty text", (v) => typeof v === "string" && v !== "");
const positiveInteger = rule("a positive integer", (v) => Number.isSafeInteger(v) && (v as number) > 0);
const wholeNumber = rule("a whole number, 0 or more", (v) => Number.isSafeInteger(v) && (v as number) >= 0);
const flag = rule("true or false", (v) => typeof v === "boolean");
const globs = rule("a list of globs", (v) => Array.isArray(v) && v.every((item) => typeof item === "string"));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Every option of {@link ResolveOptionsInput} and what it accepts (checked before any default
 * applies). Plain functions, not a schema library: they run in every build, and importing zod cost
 * a whole warm `vite build` process 45–70 ms, more than imagegen's whole share of it.
 */
const OPTION_RULES: Record<keyof ResolveOptionsInput, OptionRule> = {
  provider: rule(
    '"onemin", "placeholder", an AI SDK image model (google.image("gemini-3-pro-image")) or a provider (an object with an id and a generate function)',
    (v) => v === "onemin" || v === "placeholder" || isAiSdkImageModel(v) || isProvider(v),
  ),
  apiKey: text,
  apiUrl: rule("an absolute URL", (v) => typeof v === "string" && URL.canParse(v)),
  model: text,
  defaults: rule("a mapping of image parameters", isObject),
  styles: (value) => {
    if (!isObject(value)) return `must be a mapping of style names to text (got ${describeValue(value)})`;
    for (const [name, styleText] of Object.entries(value)) {
      if (!STYLE_NAME.test(name)) {
        return `name ${JSON.stringify(name)} is not allowed; a style name is 1 to 64 letters, digits, ".", "_" or "-"`;
      }
      if (typeof styleText !== "string" || styleText === "") {
        return `style ${JSON.stringify(name)} must be non-empty text (got ${describeValue(styleText)})`;
      }
    }
    return undefined;
  },
  store: text,
  lockfile: text,
  cacheDir: text,
  cacheMaxBytes: wholeNumber,
  concurrency: positiveInteger,
  maxGenerations: rule("a whole number, 0 or more, or Infinity", (v) => v === Infinity || wholeNumber(v) === undefined),
  maxCost: rule("a number, 0 or more, or Infinity", (v) => typeof v === "number" && v >= 0 && !Number.isNaN(v)),
  currency: rule('a unit of 1 to 16 letters, such as "USD" or "credits"', (v) => typeof v === "string" && CURRENCY.test(v)),
  prices: (value) => {
    const list = resolvePriceList(value);
    return typeof list === "string" ? list : undefined;
  },
  frozen: flag,
  strict: flag,
  manifests: globs,
  sources: globs,
  timeoutMs: positiveInteger,
  attempts: positiveInteger,
  retries: positiveInteger,
  maxRetryAfterMs: wholeNumber,
  retryDelayMs: wholeNumber,
  maxDownloadBytes: positiveInteger,
  remote: (value) => {
    const allowed = `must be an s3:// URL or { url, write, concurrency } (got ${describeValue(value)})`;
    if (typeof value === "string") return value === "" ? allowed : undefined;
    if (!isObject(value) || typeof value.url !== "string" || value.url === "") return allowed;
    const extra = Object.keys(value).find((key) => key !== "url" && key !== "write" && key !== "concurrency");
    if (extra !== undefined) return `unknown field ${JSON.stringify(extra)}; allowed: url, write, concurrency`;
    if (value.concurrency !== undefined && positiveInteger(value.concurrency) !== undefined) {
      return `concurrency must be a whole number, 1 or more (got ${describeValue(value.concurrency)})`;
    }
    return value.write === undefined || typeof value.write === "boolean" ? undefined : `write must be true or false (got ${describeValue(value.write)})`;
  },
  persistent: flag,
  review: rule('"required" or "optional"', (v) => v === "required" || v === "optional"),
  root: rule("a path", (v) => typeof v === "string"),
  logger: rule("an object with info and warn functions", isObject),
  configFile: rule("a path or false", (v) => typeof v === "string" || v === false),
};

function isProvider(value: unknown): value is Provider {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Provider).id === "string" &&
    typeof (value as Provider).generate === "function"
  );
}

export const consoleLogger: Logger = {
  info: (message) => console.log(`[imagegen] ${message}`),
  warn: (message) => console.warn(`[imagegen] ${message}`),
};

function envFlag(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}

/**
 * A yes/no environment variable read strictly: 1/true/yes/on or 0/false/no/off (any case), unset
 * or empty for `undefined`; anything else is refused, naming the variable, rather than guessed.
 */
function envSwitch(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const value = env[name]?.trim().toLowerCase();
  if (value === undefined || value === "") return undefined;
  if (["1", "true", "yes", "on"].includes(value)) return true;
  if (["0", "false", "no", "off"].includes(value)) return false;
  throw new ImagegenError(`${name}=${JSON.stringify(env[name])} is not understood; use 1, true, yes or on, or 0, false, no or off.`);
}

export interface ResolveOptionsInput extends ImagegenOptions {
  /** Config file to read instead of `imagegen.config.*` at the root; `false` reads none. */
  configFile?: string | false;
}

/**
 * Merges the config file and inline options (inline wins, field by field) and applies every
 * default, once. The rest of the code never checks for an unset option.
 */
export async function resolveOptions(
  inline: ResolveOptionsInput = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedOptions> {
  const root = resolveProjectRoot(inline.root);
  const { config, file } = await loadConfigFile(root, inline.configFile);
  const merged: ResolveOptionsInput = { ...config, ...withoutUndefined(inline) };
  const where = file ?? "imagegen options";

  for (const [name, check] of Object.entries(OPTION_RULES)) {
    const value = merged[name as keyof ResolveOptionsInput];
    const problem = value === undefined ? undefined : check(value);
    if (problem) throw new ImagegenError(`Invalid option "${name}" in ${where}: ${problem}`);
  }
  const knownKeys = new Set(Object.keys(OPTION_RULES));
  const unknown = Object.keys(merged).filter((key) => !knownKeys.has(key));
  if (unknown.length > 0) {
    throw new ImagegenError(
      `Unknown option "${unknown[0]}" in ${where}; allowed: ${[...knownKeys].filter((k) => k !== "configFile").join(", ")}`,
    );
  }

  const defaults = validateDefaults(merged.defaults ?? {}, `defaults in ${where}`);
  const apiKey = merged.apiKey ?? (env.ONEMIN_API_KEY || undefined);
  const apiUrl = merged.apiUrl ?? (env.ONEMIN_API_URL || DEFAULT_API_URL);
  const maxDownloadBytes = merged.maxDownloadBytes ?? 64 * 1024 * 1024;
  const timeoutMs = merged.timeoutMs ?? 180_000;
  const retryDelayMs = merged.retryDelayMs ?? 500;
  const logger = merged.logger ?? consoleLogger;
  if (merged.retries !== undefined) {
    logger.warn(`The option "retries" in ${where} is deprecated: it counts attempts, so it is now named "attempts".`);
  }

  const secrets = [...(apiKey ? [apiKey] : []), ...AI_SDK_KEY_VARIABLES.map((name) => env[name]).filter((value): value is string => Boolean(value))];
  let provider: Provider;
  let usingFallbackPlaceholder = false;
  if (isAiSdkImageModel(merged.provider)) {
    provider = createAiSdkProvider(merged.provider, { logger, secrets });
  } else if (typeof merged.provider === "object") {
    provider = merged.provider;
  } else if (merged.provider === "placeholder") {
    provider = createPlaceholderProvider();
  } else if (apiKey) {
    const persistent = merged.persistent ?? envSwitch(env, "IMAGEGEN_PERSISTENT");
    provider = createOneminProvider({
      apiKey,
      apiUrl,
      maxDownloadBytes,
      // An inactivity timeout: a large original on a slow link may take longer, while bytes arrive.
      downloadTimeoutMs: Math.min(timeoutMs, 60_000),
      downloadRetryDelayMs: retryDelayMs,
      ...(persistent !== undefined && { persistent }),
    });
  } else {
    provider = createPlaceholderProvider();
    usingFallbackPlaceholder = true;
  }

  const frozen = merged.frozen ?? envFlag(env.IMAGEGEN_FROZEN);
  const remote = resolveRemote(merged.remote, env, where, {
    frozen,
    attempts: merged.attempts ?? merged.retries ?? 4,
    timeoutMs: Math.min(timeoutMs, 60_000),
    retryDelayMs,
    onHint: (message) => logger.warn(message),
  });

  const model = keyModel(provider.model, merged.model, where);
  // The CLI's keys come from the config file alone: its provider's model, not one the plugin was given.
  const configModel =
    config.provider === merged.provider && config.model === merged.model ? model : keyModel(providerModelOf(config.provider), config.model, where);

  return {
    root,
    configFile: file,
    configKeyOptions: {
      ...configModel,
      defaults: inline.defaults === undefined ? defaults : validateDefaults(config.defaults ?? {}, `defaults in ${where}`),
      styles: config.styles ?? {},
    },
    secrets,
    provider,
    usingFallbackPlaceholder,
    ...model,
    defaults,
    styles: merged.styles ?? {},
    storeDir: path.resolve(root, merged.store ?? ".imagegen"),
    lockfilePath: path.resolve(root, merged.lockfile ?? "imagegen.lock.json"),
    cacheDir: path.resolve(root, merged.cacheDir ?? "node_modules/.cache/imagegen"),
    cacheMaxBytes: merged.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES,
    concurrency: merged.concurrency ?? 4,
    maxGenerations: merged.maxGenerations ?? Infinity,
    maxCost: merged.maxCost ?? Infinity,
    currency: currencyOf(merged.currency),
    prices: merged.prices === undefined ? {} : (resolvePriceList(merged.prices) as PriceList),
    frozen,
    strict: merged.strict ?? envFlag(env.CI),
    manifests: merged.manifests ?? DEFAULT_MANIFESTS,
    sources: merged.sources ?? DEFAULT_SOURCES,
    timeoutMs,
    attempts: merged.attempts ?? merged.retries ?? 4,
    maxRetryAfterMs: merged.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS,
    retryDelayMs,
    maxDownloadBytes,
    remote,
    review: merged.review ?? "optional",
    logger,
  };
}

/** `usd` is USD, imagegen's own unit; any other name (`credits`) is kept as written. */
function currencyOf(option: string | undefined): string {
  return option === undefined || option.toUpperCase() === USD ? USD : option;
}

/** The one model of a `provider` option, if it has one (an AI SDK model, or a provider that names its model). */
function providerModelOf(option: ImagegenOptions["provider"]): Provider["model"] {
  if (isAiSdkImageModel(option)) return createAiSdkProvider(option, { logger: consoleLogger }).model;
  return typeof option === "object" ? option.model : undefined;
}

/**
 * The model every key names and the aspects asked of it: a provider's one model (an AI SDK
 * model's `<provider>:<modelId>`), which the `model` option may only repeat, else `model`.
 */
function keyModel(
  fixed: Provider["model"],
  option: string | undefined,
  where: string,
): { model: string; nativeAspects: readonly string[] } {
  if (fixed === undefined) return { model: option ?? DEFAULT_MODEL, nativeAspects: [] };
  if (option !== undefined && option !== fixed.name) {
    throw new ImagegenError(
      `Invalid option "model" in ${where}: "${option}" is not the model of provider ${fixed.name}; leave model out (it is "${fixed.name}"), or change provider.`,
    );
  }
  return { model: fixed.name, nativeAspects: fixed.nativeAspects };
}

/**
 * The remote store of `remote` (or `IMAGEGEN_REMOTE`). It writes unless `write: false`,
 * `IMAGEGEN_REMOTE_WRITE=0` or frozen mode says otherwise: any one of them makes it read-only.
 */
function resolveRemote(
  option: ImagegenOptions["remote"],
  env: NodeJS.ProcessEnv,
  where: string,
  settings: { frozen: boolean; attempts: number; timeoutMs: number; retryDelayMs: number; onHint: (message: string) => void },
): RemoteStore | undefined {
  const fromEnv = env.IMAGEGEN_REMOTE?.trim() || undefined;
  const { url, write = true, concurrency } = typeof option === "string" ? { url: option } : (option ?? { url: fromEnv });
  if (url === undefined) return undefined;
  const location = parseRemoteUrl(url);
  if (typeof location === "string") {
    throw new ImagegenError(`Invalid option "remote" in ${option === undefined ? "IMAGEGEN_REMOTE" : where}: ${location}; expected s3://bucket/prefix.`);
  }
  const writeOff = envSwitch(env, "IMAGEGEN_REMOTE_WRITE") === false;
  return new RemoteStore({
    url,
    write: write && !writeOff && !settings.frozen,
    attempts: settings.attempts,
    timeoutMs: settings.timeoutMs,
    retryDelayMs: settings.retryDelayMs,
    ...(concurrency !== undefined && { concurrency }),
    onHint: settings.onHint,
    env,
  });
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
