// The floor of a command that must look at a project: read and sha256 every file of it (its
// sources, manifests, config, lock and stored originals; not node_modules or dist), in one process.
// Usage: node child-hash.mjs '{"root":"…"}'. Prints one JSON line: { files, bytes, ms }.
import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";

const { root } = JSON.parse(process.argv[2]);
const started = performance.now();
const entries = await readdir(root, { recursive: true, withFileTypes: true });
const files = entries
  .filter((entry) => entry.isFile())
  .map((entry) => path.join(entry.parentPath, entry.name))
  .filter((file) => !["node_modules", "dist"].includes(path.relative(root, file).split(path.sep)[0]));
let bytes = 0;
let next = 0;
async function worker() {
  while (next < files.length) {
    const content = await readFile(files[next++]);
    createHash("sha256").update(content).digest("hex");
    bytes += content.length;
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
process.stdout.write(`${JSON.stringify({ files: files.length, bytes, ms: performance.now() - started })}\n`);
