import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { OutputParams } from "../spec/spec.js";
import type { OriginalSource, PlannedVariant, Rendition, Variant } from "./variants.js";

/**
 * The render process: a Node child that imagegen starts to render large originals, so that the
 * memory their encoders free goes back to the system. On Linux, glibc keeps what libaom and
 * libvips free in one arena per thread that ran an encode; a 4K build of 16 originals peaked at
 * 832–908 MiB that way, and at 449 MiB with `MALLOC_TRIM_THRESHOLD_=1048576`. The allocator reads
 * its settings when a process starts, so the only process imagegen can give them to is one it
 * starts: this one, which also ends once it has been idle for {@link IDLE_MS}.
 *
 * It is used on Linux with glibc, unless `IMAGEGEN_RENDER_PROCESS=0` (or false, no, off) or the built worker is
 * missing (the sources run by a test runner), and only for originals above 8 megapixels: a build's
 * renditions (`renderVariants`) and a dev server's single variants and placeholders
 * (`renderVariant`, `renderPlaceholder`). A smaller original costs the process little, and the
 * child's start (a Node process and sharp, ~150 ms) would be a large part of its render.
 */

/** An original's file in the local store, and the sha256 its bytes must have. */
export interface LocalFile {
  path: string;
  sha256: string;
}

/** The work of one job, and what it makes: the functions of variants.ts of the same names. */
export type RenderWork =
  | { kind: "renderVariants"; output: OutputParams }
  | { kind: "renderVariant"; output: OutputParams; planned: PlannedVariant }
  | { kind: "renderPlaceholder"; output: OutputParams };

interface WorkResults {
  renderVariants: Rendition;
  renderVariant: Variant;
  renderPlaceholder: string | undefined;
}

/**
 * What the child is asked: one piece of work on an original, given as its file in the local store
 * (which the child reads and checks) or as its bytes.
 */
export interface RenderJob {
  id: number;
  original: { file: LocalFile } | { bytes: Uint8Array };
  work: RenderWork;
}

/**
 * What it answers: what the work made; `unread` when the file was missing or its bytes did not
 * match (the original is then loaded here, where the store reports what is wrong with it); or the
 * message and stack of what it threw.
 */
export type RenderReply =
  | { id: number; made: WorkResults[RenderWork["kind"]] }
  | { id: number; unread: true }
  | { id: number; error: { message: string; stack?: string } };

/** An idle child ends after this long; the next large original starts another. */
const IDLE_MS = 3_000;

/** glibc gives back freed memory above 1 MiB at once instead of keeping it in the thread's arena. */
const ALLOCATOR_ENV = { MALLOC_TRIM_THRESHOLD_: "1048576" };

const workerFile = fileURLToPath(new URL("./render-worker.mjs", import.meta.url));

let shared: RenderProcess | undefined;
let usable: boolean | undefined;

/** The process's render process, or `undefined` where large originals render in this process. */
export function renderProcess(): RenderProcess | undefined {
  if (["0", "false", "no", "off"].includes(process.env["IMAGEGEN_RENDER_PROCESS"]?.trim().toLowerCase() ?? "")) return undefined;
  usable ??= process.platform === "linux" && isGlibc() && existsSync(workerFile);
  if (!usable) return undefined;
  shared ??= new RenderProcess(workerFile);
  return shared;
}

/**
 * One child, started on the first job and after it ends. Jobs run in the child in the order they
 * come (the render pool of this process sends one at a time); while none is pending, neither the
 * child nor its channel keeps this process alive, and the child ends with this process.
 */
export class RenderProcess {
  readonly #file: string;
  readonly #pending = new Map<number, { resolve(made: { made: unknown } | undefined): void; reject(error: Error): void }>();
  #child: ChildProcess | undefined;
  #idle: NodeJS.Timeout | undefined;
  #nextId = 0;

  constructor(file: string) {
    this.#file = file;
  }

  /** The work done on `source`: read by the child from the local store where it is there, else sent. */
  async render<W extends RenderWork>(source: OriginalSource, work: W): Promise<WorkResults[W["kind"]]> {
    const file = await source.localFile?.();
    const reply = (file ? await this.#ask({ file }, work) : undefined) ?? (await this.#ask({ bytes: await source.load() }, work))!;
    return withBuffers<W["kind"]>(work.kind, reply.made as WorkResults[W["kind"]]);
  }

  #ask(original: RenderJob["original"], work: RenderWork): Promise<{ made: unknown } | undefined> {
    const child = this.#running();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      child.send({ id, original, work } satisfies RenderJob, (error) => {
        if (error) this.#settle(id, { id, error: { message: `could not send the original: ${error.message}` } });
      });
    });
  }

  #running(): ChildProcess {
    clearTimeout(this.#idle);
    if (this.#child) {
      this.#child.ref();
      this.#child.channel?.ref();
      return this.#child;
    }
    const ownAllocatorSettings = Object.keys(process.env).some((name) => name.startsWith("MALLOC_"));
    const env: NodeJS.ProcessEnv = {
      ...(ownAllocatorSettings ? {} : ALLOCATOR_ENV), // the user's own settings win
      ...process.env,
      // The child renders what it is given and never starts a render process of its own.
      IMAGEGEN_RENDER_PROCESS: "0",
    };
    const child = fork(this.#file, [], {
      env,
      execArgv: [],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child.on("message", (reply: RenderReply) => this.#settle(reply.id, reply));
    child.on("error", (error) => this.#ended(child, error.message));
    child.on("exit", (code, signal) => this.#ended(child, signal ? `killed by ${signal}` : `exit code ${code}`));
    this.#child = child;
    return child;
  }

  #settle(id: number, reply: RenderReply): void {
    const job = this.#pending.get(id);
    if (!job) return;
    this.#pending.delete(id);
    if ("error" in reply) {
      const error = new Error(reply.error.message);
      if (reply.error.stack) error.stack = reply.error.stack;
      job.reject(error);
    } else {
      job.resolve("made" in reply ? { made: reply.made } : undefined);
    }
    if (this.#pending.size === 0) this.#rest();
  }

  /** Idle: the child no longer holds this process open, and ends if nothing comes for a while. */
  #rest(): void {
    const child = this.#child;
    if (!child) return;
    child.unref();
    child.channel?.unref();
    this.#idle = setTimeout(() => {
      // Let go of it first: a job that comes while it exits starts another.
      if (this.#child === child) this.#child = undefined;
      if (child.connected) child.disconnect();
    }, IDLE_MS).unref();
  }

  #ended(child: ChildProcess, how: string): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    clearTimeout(this.#idle);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    const error = new Error(`imagegen's render process ended (${how}) before it finished; the next build renders the image again`);
    for (const job of pending) job.reject(error);
  }
}

/** Byte arrays cross the channel as Uint8Array; the engine and the cache take Buffers. */
function withBuffers<K extends RenderWork["kind"]>(kind: K, made: WorkResults[K]): WorkResults[K] {
  const buffered = (variant: Variant): Variant => ({ ...variant, bytes: Buffer.from(variant.bytes.buffer, variant.bytes.byteOffset, variant.bytes.byteLength) });
  switch (kind) {
    case "renderVariants": {
      const rendition = made as Rendition;
      return { ...rendition, variants: rendition.variants.map(buffered) } as WorkResults[K];
    }
    case "renderVariant":
      return buffered(made as Variant) as WorkResults[K];
    default:
      return made; // a placeholder's data URL, or none
  }
}

/** glibc, not musl: the header of Node's own report names the C library it runs on. */
function isGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return Boolean(report?.header?.glibcVersionRuntime);
}
