import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import imagegen from "unplugin-imagegen/vite";
import type { ImagegenPluginOptions } from "unplugin-imagegen";
import { type Rollup, build } from "vite";
import { captureLogger, copyFixture, listFiles } from "../../support/fixture-project.js";

/** The one image the fault tests build, and retry knobs that make three attempts take milliseconds, not minutes. */
export const FAULT_PROMPT = "a lighthouse at dawn";
export const FAULT_ID = `gen:${FAULT_PROMPT}?w=64&format=webp`;
export const FAST_RETRIES = { attempts: 3, timeoutMs: 400, retryDelayMs: 5 };

/** A fresh copy of `test/fixtures/reliability` whose `src/main.js` is `main` (and any other files given). */
export async function reliabilityProject(main?: string, files: Record<string, string> = {}): Promise<string> {
  const root = await copyFixture("reliability");
  if (main !== undefined) await writeFile(path.join(root, "src", "main.js"), main);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(root, name), text);
  return root;
}

/** `src/main.js` that imports each id and shows it. */
export function importing(...ids: string[]): string {
  const lines = ids.map((id, i) => `import image${i} from ${JSON.stringify(id)};`);
  return `${lines.join("\n")}\ndocument.querySelector("#app").textContent = [${ids.map((_, i) => `image${i}`).join(", ")}].join(" ");\n`;
}

export interface BuildOutcome {
  output: Rollup.RolldownOutput | undefined;
  /** What the build threw. */
  error: (Error & { errors?: Error[] }) | undefined;
  /** The plugin's own error, as a user reads it under "[plugin unplugin-imagegen]". */
  message: string | undefined;
  log: string[];
  elapsedMs: number;
}

/** A real Vite build of `root` with the plugin, nothing written to disk. */
export async function viteBuild(root: string, options: ImagegenPluginOptions): Promise<BuildOutcome> {
  const log = captureLogger();
  const started = Date.now();
  let output: Rollup.RolldownOutput | undefined;
  let error: BuildOutcome["error"];
  try {
    output = (await build({
      root,
      configFile: false,
      logLevel: "silent",
      build: { write: false, modulePreload: { polyfill: false } },
      plugins: [imagegen({ logger: log.logger, strict: true, ...options })],
    })) as Rollup.RolldownOutput;
  } catch (caught) {
    error = caught as BuildOutcome["error"];
  }
  const message = error?.errors?.[0]?.message ?? error?.message;
  return { output, error, message, log: log.lines, elapsedMs: Date.now() - started };
}

/** Every file of the store (locks and leftovers included), and whether a lockfile exists. */
export async function storeState(root: string): Promise<{ store: string[]; lockfile: boolean }> {
  const store = await listFiles(path.join(root, ".imagegen")).catch(() => []);
  const lockfile = await readFile(path.join(root, "imagegen.lock.json")).then(
    () => true,
    () => false,
  );
  return { store, lockfile };
}
