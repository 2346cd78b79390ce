// The render process's entry (render-process.ts): renders each original it is sent, one after
// another, with this process's own render pool, and ends when its parent lets go of the channel.
import { readFile } from "node:fs/promises";
import { sha256Hex } from "../spec/key.js";
import type { RenderJob, RenderReply } from "./render-process.js";
import { renderVariants } from "./variants.js";

process.on("message", (job: RenderJob) => {
  render(job).then(reply, (error: unknown) => {
    const { message, stack } = error instanceof Error ? error : new Error(String(error));
    reply({ id: job.id, error: { message, ...(stack ? { stack } : {}) } });
  });
});

process.on("disconnect", () => process.exit(0));

async function render({ id, original, output }: RenderJob): Promise<RenderReply> {
  const bytes = "bytes" in original ? Buffer.from(original.bytes.buffer, original.bytes.byteOffset, original.bytes.byteLength) : await readChecked(original.file.path, original.file.sha256);
  return bytes ? { id, rendition: await renderVariants(bytes, output) } : { id, unread: true };
}

/** The file's bytes when they have the sha256 the store recorded; `undefined` when missing or changed. */
async function readChecked(path: string, sha256: string): Promise<Buffer | undefined> {
  const bytes = await readFile(path).catch(() => undefined);
  return bytes && sha256Hex(bytes) === sha256 ? bytes : undefined;
}

function reply(message: RenderReply): void {
  process.send?.(message);
}
