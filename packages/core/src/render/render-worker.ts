// The render process's entry (render-process.ts): renders each original it is sent, one after
// another, with this process's own render pool, and ends when its parent lets go of the channel.
import type { RenderJob, RenderReply } from "./render-process.js";
import { renderVariants } from "./variants.js";

process.on("message", (job: RenderJob) => {
  const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
  renderVariants(bytes, job.output).then(
    (rendition) => reply({ id: job.id, rendition }),
    (error: unknown) => {
      const { message, stack } = error instanceof Error ? error : new Error(String(error));
      reply({ id: job.id, error: { message, ...(stack ? { stack } : {}) } });
    },
  );
});

process.on("disconnect", () => process.exit(0));

function reply(message: RenderReply): void {
  process.send?.(message);
}
