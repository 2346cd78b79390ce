// What the remote-store tests share: the project they build, a Vite build with a CI job's
// environment, a wiped machine, and what the lock and the bundle say.
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import type { ImagegenPluginOptions } from "unplugin-imagegen";
import { vi } from "vitest";
import { FAKE_API_KEY } from "../support/fixture-project.js";
import { viteBuild } from "../reliability/support/project.js";

/** The bucket prefix every remote-store test works under (each test a folder of its own below it). */
export const PREFIX = "team/site";

/** A manifest of one image, `harbour`. */
export const HARBOUR_MANIFEST = "images:\n  harbour:\n    prompt: A fishing harbour at blue hour\n    w: [64]\n    format: [webp]\n";

/** A real Vite build in this process, against the emulator at `apiUrl`, with the environment a CI job would give it. */
export async function remoteBuild(root: string, apiUrl: string, env: Record<string, string | undefined>, options: ImagegenPluginOptions = {}) {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  try {
    return await viteBuild(root, { root, apiKey: FAKE_API_KEY, apiUrl, retryDelayMs: 5, ...options });
  } finally {
    vi.unstubAllEnvs();
  }
}

/** What a CI machine starts from when only the repository is checked out. */
export async function wipe(root: string): Promise<void> {
  for (const dir of [".imagegen", "node_modules/.cache", "dist"]) await rm(path.join(root, dir), { recursive: true, force: true });
}

/** The lock's images by key. */
export async function lockOf(root: string): Promise<Record<string, { prompt: string; sha256: string }>> {
  return JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8")).images;
}

/** The sha256 the lock pins for a prompt (`undefined` when it pins none). */
export async function lockedSha(root: string, prompt: string): Promise<string | undefined> {
  return Object.values(await lockOf(root)).find((entry) => entry.prompt === prompt)?.sha256;
}

/** Emitted image files by name, with their bytes (base64). */
export function emittedImages(output: Awaited<ReturnType<typeof remoteBuild>>["output"]): Map<string, string> {
  const files = new Map<string, string>();
  for (const item of output!.output) {
    if (item.type === "asset" && /\.(avif|webp|png|jpg)$/.test(item.fileName)) {
      files.set(item.fileName, Buffer.from(item.source as Uint8Array).toString("base64"));
    }
  }
  return files;
}
