import cliProgress from "cli-progress";
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
