// The render process's entry (render-process.ts): does the work it is sent on each original (a
// rendition, one variant or a placeholder), with this process's own render pool, and ends when its
// parent lets go of the channel.
import { readFile } from "node:fs/promises";
import { sha256Hex } from "../spec/key.js";
import type { RenderJob, RenderReply } from "./render-process.js";
import { renderPlaceholder, renderVariant, renderVariants } from "./variants.js";

process.on("message", (job: RenderJob) => {
  render(job).then(reply, (error: unknown) => {
    const { message, stack } = error instanceof Error ? error : new Error(String(error));
    reply({ id: job.id, error: { message, ...(stack ? { stack } : {}) } });
  });
});

process.on("disconnect", () => process.exit(0));

async function render({ id, original, work }: RenderJob): Promise<RenderReply> {
  const bytes = "bytes" in original ? Buffer.from(original.bytes.buffer, original.bytes.byteOffset, original.bytes.byteLength) : await readChecked(original.file.path, original.file.sha256);
  if (!bytes) return { id, unread: true };
  switch (work.kind) {
    case "renderVariants":
      return { id, made: await renderVariants(bytes, work.output) };
    case "renderVariant":
      return { id, made: await renderVariant(bytes, work.output, work.planned) };
    case "renderPlaceholder":
      return { id, made: await renderPlaceholder(bytes, work.output) };
  }
}

/** The file's bytes when they have the sha256 the store recorded; `undefined` when missing or changed. */
async function readChecked(path: string, sha256: string): Promise<Buffer | undefined> {
  const bytes = await readFile(path).catch(() => undefined);
  return bytes && sha256Hex(bytes) === sha256 ? bytes : undefined;
}

function reply(message: RenderReply): void {
  process.send?.(message);
}
