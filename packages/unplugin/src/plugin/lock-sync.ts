import path from "node:path";
import { type Engine, type Logger, discoverSpecs } from "@imagegen/core";

/** How long a dev server waits after its last lock write before it looks for unused entries. */
const DEV_DELAY_MS = 1_000;

/**
 * Keeps the lock to the images in use (SPEC §4), as `imagegen generate` does: after a build (or,
 * in a dev server, a moment after the last change) that wrote the lock, the project's images are
 * found as the CLI finds them, and the entries of keys nothing uses are dropped. Their originals
 * stay in the stores. Nothing happens while an import or manifest is invalid (its images would
 * look unused), nor when this engine wrote no entry (a warm build does no discovery).
 */
export function createLockSync(getEngine: () => Promise<Engine>, logger: () => Logger) {
  // The lock writes of which engine were looked at last (a dev server's restart makes a new engine).
  let synced: { engine: Engine; writes: number } | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function now(): Promise<void> {
    clearTimeout(timer);
    const engine = await getEngine();
    if (synced?.engine === engine && synced.writes === engine.lockWrites) return;
    synced = { engine, writes: engine.lockWrites };
    if (engine.lockWrites === 0) return;
    const discovery = await discoverSpecs(engine.options);
    if (discovery.errors.length > 0) return;
    const dropped = await engine.retainInLock(new Set(discovery.specs.map((spec) => spec.key)));
    if (dropped.length === 0) return;
    const { root, lockfilePath, storeDir } = engine.options;
    logger().info(
      `dropped ${dropped.length} image(s) that nothing uses from ${path.relative(root, lockfilePath)}; ` +
        `their originals stay in ${path.relative(root, storeDir)}/${engine.options.remote ? ` and ${engine.options.remote.url}` : ""}`,
    );
  }

  return {
    now,
    /** Debounced, for a dev server; a failure is a warning, never an error of the page. */
    later(): void {
      clearTimeout(timer);
      timer = setTimeout(() => now().catch((error: unknown) => logger().warn(`Could not update the lock: ${(error as Error).message}`)), DEV_DELAY_MS);
      timer.unref();
    },
  };
}
