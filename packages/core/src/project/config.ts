import path from "node:path";
import { loadConfig } from "c12";
import { z } from "zod";
import { ImagegenError } from "../errors.js";
import type { ImagegenOptions, Logger, ResolvedOptions } from "./options.js";
import type { Provider } from "../generate/provider.js";
import { DEFAULT_MAX_RETRY_AFTER_MS } from "../generate/generate-with-retry.js";
import { DEFAULT_API_URL, createOneminProvider } from "../generate/onemin.js";
import { createPlaceholderProvider } from "../generate/placeholder.js";
import { validateDefaults } from "../spec/image-options-schema.js";
import { DEFAULT_MODEL } from "../spec/spec.js";
import { RemoteStore, parseRemoteUrl } from "../store/remote.js";

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
  try {
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

const positiveInteger = z.number().int().positive();
const optionsSchema = z.object({
  provider: z.union([z.enum(["onemin", "placeholder"]), z.custom<Provider>(isProvider)]).optional(),
  apiKey: z.string().min(1).optional(),
  apiUrl: z.url().optional(),
  model: z.string().min(1).optional(),
  defaults: z.record(z.string(), z.unknown()).optional(),
  styles: z
    .record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a style name is 1 to 64 letters, digits, ".", "_" or "-"'), z.string().min(1))
    .optional(),
  store: z.string().min(1).optional(),
  lockfile: z.string().min(1).optional(),
  cacheDir: z.string().min(1).optional(),
  concurrency: positiveInteger.optional(),
  maxGenerations: z.union([z.number().int().nonnegative(), z.literal(Infinity)]).optional(),
  frozen: z.boolean().optional(),
  strict: z.boolean().optional(),
  manifests: z.array(z.string()).optional(),
  sources: z.array(z.string()).optional(),
  timeoutMs: positiveInteger.optional(),
  attempts: positiveInteger.optional(),
  retries: positiveInteger.optional(),
  maxRetryAfterMs: z.number().int().nonnegative().optional(),
  retryDelayMs: z.number().int().nonnegative().optional(),
  maxDownloadBytes: positiveInteger.optional(),
  remote: z.union([z.string().min(1), z.object({ url: z.string().min(1), write: z.boolean().optional() }).strict()]).optional(),
  root: z.string().optional(),
  logger: z.custom<Logger>((value) => typeof value === "object" && value !== null).optional(),
  configFile: z.union([z.string(), z.literal(false)]).optional(),
});

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
  const root = path.resolve(inline.root ?? process.cwd());
  const { config, file } = await loadConfigFile(root, inline.configFile);
  const merged: ResolveOptionsInput = { ...config, ...withoutUndefined(inline) };
  const where = file ?? "imagegen options";

  const parsed = optionsSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === "invalid_key") {
      // A bad name in a record (a style): name the option, the key and what a key may be.
      const field = issue.path.slice(0, -1).join(".");
      const key = JSON.stringify(String(issue.path.at(-1)));
      throw new ImagegenError(`Invalid option "${field}" in ${where}: name ${key} is not allowed; ${issue.issues[0]?.message ?? issue.message}`);
    }
    const field = issue.path.join(".") || "(root)";
    throw new ImagegenError(`Invalid option "${field}" in ${where}: ${issue.message}`);
  }
  const knownKeys = new Set(Object.keys(optionsSchema.shape));
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

  let provider: Provider;
  let usingFallbackPlaceholder = false;
  if (typeof merged.provider === "object") {
    provider = merged.provider;
  } else if (merged.provider === "placeholder") {
    provider = createPlaceholderProvider();
  } else if (apiKey) {
    provider = createOneminProvider({
      apiKey,
      apiUrl,
      maxDownloadBytes,
      downloadTimeoutMs: Math.min(timeoutMs, 60_000),
      downloadRetryDelayMs: retryDelayMs,
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
  });

  return {
    root,
    provider,
    usingFallbackPlaceholder,
    model: merged.model ?? DEFAULT_MODEL,
    defaults,
    styles: merged.styles ?? {},
    storeDir: path.resolve(root, merged.store ?? ".imagegen"),
    lockfilePath: path.resolve(root, merged.lockfile ?? "imagegen.lock.json"),
    cacheDir: path.resolve(root, merged.cacheDir ?? "node_modules/.cache/imagegen"),
    concurrency: merged.concurrency ?? 4,
    maxGenerations: merged.maxGenerations ?? Infinity,
    frozen,
    strict: merged.strict ?? envFlag(env.CI),
    manifests: merged.manifests ?? ["**/*.prompts.{yaml,yml}"],
    sources: merged.sources ?? ["src/**/*.{js,jsx,ts,tsx,mjs,cjs,mts,cts,vue,svelte,astro,mdx}"],
    timeoutMs,
    attempts: merged.attempts ?? merged.retries ?? 4,
    maxRetryAfterMs: merged.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS,
    retryDelayMs,
    maxDownloadBytes,
    remote,
    logger,
  };
}

/**
 * The remote store of `remote` (or `IMAGEGEN_REMOTE`). It writes unless `write: false`,
 * `IMAGEGEN_REMOTE_WRITE=0` or frozen mode says otherwise: any one of them makes it read-only.
 */
function resolveRemote(
  option: ImagegenOptions["remote"],
  env: NodeJS.ProcessEnv,
  where: string,
  settings: { frozen: boolean; attempts: number; timeoutMs: number; retryDelayMs: number },
): RemoteStore | undefined {
  const fromEnv = env.IMAGEGEN_REMOTE?.trim() || undefined;
  const { url, write = true } = typeof option === "string" ? { url: option } : (option ?? { url: fromEnv });
  if (url === undefined) return undefined;
  const location = parseRemoteUrl(url);
  if (typeof location === "string") {
    throw new ImagegenError(`Invalid option "remote" in ${option === undefined ? "IMAGEGEN_REMOTE" : where}: ${location}; expected s3://bucket/prefix.`);
  }
  const writeEnv = env.IMAGEGEN_REMOTE_WRITE;
  const writeOff = writeEnv !== undefined && writeEnv !== "" && !envFlag(writeEnv);
  return new RemoteStore({
    url,
    write: write && !writeOff && !settings.frozen,
    attempts: settings.attempts,
    timeoutMs: settings.timeoutMs,
    retryDelayMs: settings.retryDelayMs,
    env,
  });
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
