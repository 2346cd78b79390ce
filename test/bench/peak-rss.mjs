// The peak RSS of this process alone, in MiB. Linux's VmHWM is this program's own peak;
// getrusage's maxrss also counts the parent's memory at the fork (it survives exec), so a child of
// a bench that holds hundreds of MiB would report the bench's. maxrss is the fallback elsewhere.
import { readFileSync } from "node:fs";

export function peakRssMiB() {
  try {
    const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
    if (kib > 0) return kib / 1024;
  } catch {}
  return process.resourceUsage().maxRSS / 1024;
}
