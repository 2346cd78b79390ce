import cliProgress from "cli-progress";
import pLimit from "p-limit";
import type { Output } from "./output.js";

/** How `imagegen generate` shows its work: a live bar on a terminal, one plain line per image in CI logs. */
export interface Progress {
  /** A line that must stay visible (a warning, a finished or failed image). */
  log(line: string): void;
  /** One image is done (generated or failed). */
  tick(label: string): void;
  stop(): void;
}

export function createProgress(out: Output, total: number): Progress {
  if (out.stderr.isTTY && total > 0) return barProgress(out, total);
  let done = 0;
  return {
    log: (line) => out.note(line),
    tick(label) {
      done++;
      out.note(`[${done}/${total}] ${label}`);
    },
    stop() {},
  };
}

function barProgress(out: Output, total: number): Progress {
  const bars = new cliProgress.MultiBar(
    {
      stream: out.stderr,
      format: "{bar} {value}/{total} images | {duration_formatted}",
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(total, 0);
  let stopped = false;
  return {
    log: (line) => bars.log(`${out.clean(line)}\n`),
    tick(label) {
      bars.log(`${out.clean(label)}\n`);
      bar.increment();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bars.stop();
    },
  };
}

/** What `push` and `pull` report of one original. */
export interface Transfer<Outcome extends string> {
  key: string;
  prompt: string;
  outcome: Outcome | "failed";
  error?: string;
}

/**
 * Runs `transfer` on every item, `concurrency` at a time (whatever one holds in memory, an
 * original's bytes, it holds only in its turn), with a progress line for each: the outcome and its
 * line from `transfer`, or "failed" with the error's message (a failure is counted, never thrown).
 */
export async function transferEach<T, Outcome extends string>(
  out: Output,
  items: T[],
  nameOf: (item: T) => { key: string; prompt: string },
  transfer: (item: T) => Promise<{ outcome: Outcome; line: string }>,
  concurrency: number,
): Promise<Transfer<Outcome>[]> {
  const progress = createProgress(out, items.length);
  const limit = pLimit(concurrency);
  const results = await Promise.all(
    items.map(async (item): Promise<Transfer<Outcome>> => {
      const { key, prompt } = nameOf(item);
      try {
        const { outcome, line } = await limit(() => transfer(item));
        progress.tick(line);
        return { key, prompt, outcome };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        progress.tick(`failed: ${message}`);
        return { key, prompt, outcome: "failed", error: message };
      }
    }),
  );
  progress.stop();
  return results;
}
