import type { InputImage } from "../spec/spec.js";
import { type AssetPaths, ProviderError } from "./provider.js";

interface AssetPath {
  path: string;
  /** True when the path came from an earlier run's memory, which the API may no longer accept. */
  remembered: boolean;
}

/**
 * The asset paths of a provider's input files for one run (SPEC §12): each distinct file (by
 * sha256) is recalled from the store (for this API's origin) or uploaded once, and concurrent
 * requests share that one promise. When a request that used a remembered path fails, those paths
 * are forgotten; when it failed for good (the API refused it, a FAILED record), the files are
 * uploaded again (once per run) and the request is sent once more. A transient failure leaves the
 * upload to the next attempt.
 */
export class AssetUploads {
  readonly #paths = new Map<string, Promise<AssetPath>>();
  readonly #reuploads = new Map<string, Promise<AssetPath>>();
  readonly #upload: (input: InputImage, signal: AbortSignal) => Promise<string>;

  constructor(upload: (input: InputImage, signal: AbortSignal) => Promise<string>) {
    this.#upload = upload;
  }

  async send<T>(
    inputs: InputImage[],
    memory: AssetPaths | undefined,
    origin: string,
    signal: AbortSignal,
    request: (paths: string[]) => Promise<T>,
  ): Promise<T> {
    const first = await Promise.all(inputs.map((input) => this.#pathOf(input, memory, origin, signal)));
    try {
      return await request(first.map(({ path }) => path));
    } catch (error) {
      const remembered = inputs.filter((_, i) => first[i]!.remembered);
      if (remembered.length === 0 || !(error instanceof ProviderError) || error.mayHaveBeenCharged) throw error;
      await Promise.all(remembered.map((input) => this.#forget(input, memory, origin)));
      if (error.retryable) throw error;
      const fresh = await Promise.all(inputs.map((input, i) => (first[i]!.remembered ? this.#reupload(input, memory, origin, signal) : first[i]!)));
      return request(fresh.map(({ path }) => path));
    }
  }

  #pathOf(input: InputImage, memory: AssetPaths | undefined, origin: string, signal: AbortSignal): Promise<AssetPath> {
    const sha256 = input.sha256!;
    return this.#once(this.#paths, sha256, async () => {
      const recalled = await memory?.recall(sha256, origin);
      return recalled === undefined ? this.#uploadAndRemember(input, memory, origin, signal) : { path: recalled, remembered: true };
    });
  }

  /** A remembered path that failed is dropped, here and in the store, so that nothing sends it again. */
  async #forget(input: InputImage, memory: AssetPaths | undefined, origin: string): Promise<void> {
    this.#paths.delete(input.sha256!);
    await memory?.forget(input.sha256!, origin).catch(() => {});
  }

  #reupload(input: InputImage, memory: AssetPaths | undefined, origin: string, signal: AbortSignal): Promise<AssetPath> {
    return this.#once(this.#reuploads, input.sha256!, async () => {
      const path = await this.#uploadAndRemember(input, memory, origin, signal);
      // Later requests of this run use the new path straight away.
      this.#paths.set(input.sha256!, Promise.resolve(path));
      return path;
    });
  }

  async #uploadAndRemember(input: InputImage, memory: AssetPaths | undefined, origin: string, signal: AbortSignal): Promise<AssetPath> {
    const path = await this.#upload(input, signal);
    await memory?.remember(input.sha256!, origin, path);
    return { path, remembered: false };
  }

  /** One promise per file; a failure is forgotten so that a retry uploads again. */
  #once(map: Map<string, Promise<AssetPath>>, sha256: string, work: () => Promise<AssetPath>): Promise<AssetPath> {
    let pending = map.get(sha256);
    if (!pending) {
      pending = work();
      map.set(sha256, pending);
      const settled = pending;
      settled.catch(() => {
        if (map.get(sha256) === settled) map.delete(sha256);
      });
    }
    return pending;
  }
}
