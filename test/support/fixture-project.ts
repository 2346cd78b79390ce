import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const testDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** A recognisable fake key: tests assert that it never shows up anywhere. */
export const FAKE_API_KEY = "fake-key-9f3c1d7e-never-print-me";
/** The Google AI Studio key of tests (`GOOGLE_GENERATIVE_AI_API_KEY`), looked for everywhere like the 1min.ai one. */
export const FAKE_GOOGLE_API_KEY = "fake-google-key-4b8e2a61-never-print-me";
/** The OpenAI key of tests (`OPENAI_API_KEY`). */
export const FAKE_OPENAI_API_KEY = "sk-fake-openai-7c1d9e35-never-print-me";

/**
 * Copies a fixture into `test/.tmp/<name>-<n>`, inside the workspace so that its imports
 * resolve, with a fresh store, lock and cache.
 */
export async function copyFixture(name: string): Promise<string> {
  const target = path.join(testDir, ".tmp", `${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  await rm(target, { recursive: true, force: true });
  await mkdir(path.dirname(target), { recursive: true });
  await cp(path.join(testDir, "fixtures", name), target, { recursive: true });
  // Its own package.json makes the copy the project root (findProjectRoot), not test/ above it.
  await writeFile(path.join(target, "package.json"), `${JSON.stringify({ name: `imagegen-${name}`, private: true, type: "module" }, null, 2)}\n`, { flag: "wx" }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    },
  );
  return target;
}

/** Every file below a folder, as paths relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** Paths (relative to `dir`) of the files that contain `needle`. */
export async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const file of await listFiles(dir).catch(() => [])) {
    // A file can vanish between the listing and the read (a build releasing its key locks): it holds nothing then.
    const bytes = await readFile(path.join(dir, file)).catch(() => undefined);
    if (bytes?.includes(needle)) found.push(file);
  }
  return found;
}

/** A logger that keeps every line, to assert on what a user would read. */
export function captureLogger() {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      info: (message: string) => lines.push(message),
      warn: (message: string) => lines.push(message),
    },
  };
}

/** What a built fixture page writes into #app, read by running its bundle without a browser. */
export async function pageData(root: string): Promise<Record<string, any>> {
  const js = (await listFiles(path.join(root, "dist"))).find((f) => f.endsWith(".js"))!;
  const code = await readFile(path.join(root, "dist", js), "utf8");
  const app = { innerHTML: "" };
  new Function("document", code)({ querySelector: () => app });
  return JSON.parse(app.innerHTML);
}
