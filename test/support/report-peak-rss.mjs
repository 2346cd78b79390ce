// Preloaded into a child process (`node --import`): it reports its own peak RSS as it exits, on
// stderr, so that a test reads what the process held rather than guessing from outside. Linux's
// VmHWM is the peak of this program's own memory; getrusage's maxrss would also count the parent's
// at the time of the fork (it survives exec), so it is only the fallback elsewhere.
import { readFileSync } from "node:fs";

process.on("exit", () => {
  let kib;
  try {
    kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
  } catch {
    kib = process.resourceUsage().maxRSS;
  }
  process.stderr.write(`\npeak-rss-kib ${kib || process.resourceUsage().maxRSS}\n`);
});
