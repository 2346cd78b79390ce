import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function names(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

async function read(file: string): Promise<Buffer | undefined> {
  return readFile(file).catch(() => undefined);
}

export interface StoreSnapshot {
  /** Keys with metadata whose bytes match it. */
  stored: string[];
  /** Everything found wrong, one line each; empty when consistent. */
  problems: string[];
  /** Temporary files of interrupted writes (harmless: no reader looks at them). */
  leftovers: string[];
  /** Lock files (`.imagegen/.locks/*.lock`, the lockfile's own lock). */
  locks: string[];
}

/**
 * Checks what SPEC §4 promises after any interruption: every metadata file has its bytes with
 * the sha256 it records, every lock entry matches its metadata, and every derived-cache entry's
 * files exist with the hashes its JSON records.
 */
export async function inspectStore(root: string): Promise<StoreSnapshot> {
  const storeDir = path.join(root, ".imagegen");
  const cacheDir = path.join(root, "node_modules", ".cache", "imagegen");
  const problems: string[] = [];
  const stored: string[] = [];
  const leftovers: string[] = [];
  const metas = new Map<string, { sha256: string }>();

  for (const name of await names(storeDir)) {
    if (name.endsWith(".tmp")) leftovers.push(`.imagegen/${name}`);
    if (!/^[0-9a-f]+\.json$/.test(name)) continue;
    const key = name.slice(0, -5);
    let meta: { sha256: string; file: string; bytes: number };
    try {
      meta = JSON.parse((await readFile(path.join(storeDir, name))).toString("utf8"));
    } catch (error) {
      problems.push(`.imagegen/${name} does not parse: ${(error as Error).message}`);
      continue;
    }
    const bytes = await read(path.join(storeDir, meta.file));
    if (!bytes) problems.push(`.imagegen/${name} has no bytes file ${meta.file}`);
    else if (sha256(bytes) !== meta.sha256 || bytes.length !== meta.bytes) problems.push(`.imagegen/${meta.file} does not match its metadata`);
    else stored.push(key);
    metas.set(key, meta);
  }

  const lockText = await read(path.join(root, "imagegen.lock.json"));
  if (lockText) {
    try {
      const lock = JSON.parse(lockText.toString("utf8")) as { images: Record<string, { sha256: string }> };
      for (const [key, entry] of Object.entries(lock.images)) {
        const meta = metas.get(key);
        if (!meta) problems.push(`lock entry ${key} has no stored original`);
        else if (meta.sha256 !== entry.sha256) problems.push(`lock entry ${key} does not match its metadata`);
      }
    } catch (error) {
      problems.push(`imagegen.lock.json does not parse: ${(error as Error).message}`);
    }
  }
  for (const name of await names(root)) if (name.endsWith(".tmp")) leftovers.push(name);

  for (const name of await names(cacheDir)) {
    if (name.endsWith(".tmp")) leftovers.push(`cache/${name}`);
    if (!/^[0-9a-f]+\.json$/.test(name)) continue;
    let entry: { variants: { file: string; hash: string }[] };
    try {
      entry = JSON.parse((await readFile(path.join(cacheDir, name))).toString("utf8"));
    } catch (error) {
      problems.push(`cache ${name} does not parse: ${(error as Error).message}`);
      continue;
    }
    for (const variant of entry.variants) {
      const bytes = await read(path.join(cacheDir, variant.file));
      if (!bytes) problems.push(`cache ${name}: ${variant.file} is missing`);
      else if (sha256(bytes) !== variant.hash) problems.push(`cache ${name}: ${variant.file} does not match its hash`);
    }
  }

  const locks = [
    ...(await names(path.join(storeDir, ".locks"))).map((name) => `.imagegen/.locks/${name}`),
    ...(await names(root)).filter((name) => name.endsWith(".lock")),
  ];
  return { stored: stored.sort(), problems, leftovers, locks };
}
