// The peak RSS of this process and of the processes it started (imagegen's render process), in
// MiB. Linux's VmHWM is each process's own peak; getrusage's maxrss also counts the parent's memory
// at the fork (it survives exec), so a child of a bench that holds hundreds of MiB would report the
// bench's. maxrss is the fallback elsewhere (children not counted).
import { readFileSync } from "node:fs";

export function peakRssMiB() {
  return ownPeakMiB(process.pid) ?? process.resourceUsage().maxRSS / 1024;
}

/**
 * Starts following this process's children: each one's VmHWM is read every 100 ms while it runs.
 * Returns the peak of the tree: this process's own, plus each child's last reading. That is the
 * sum of each process's peak, which is at least the peak of their sum (an upper bound when they
 * peak at different moments). Call it at the end, while the children still run (imagegen's render
 * process ends 3 s after its last job): the final reading is then each child's whole peak.
 */
export function followChildren() {
  const peaks = new Map();
  const cpu = new Map();
  const read = () => {
    for (const pid of childPids(process.pid)) {
      const peak = ownPeakMiB(pid);
      if (peak !== undefined) peaks.set(pid, Math.max(peak, peaks.get(pid) ?? 0));
      const ms = cpuMs(pid);
      if (ms !== undefined) cpu.set(pid, ms);
    }
  };
  const timer = setInterval(read, 100).unref();
  return () => {
    read();
    clearInterval(timer);
    const children = [...peaks.values()];
    const { user, system } = process.cpuUsage();
    return {
      treeMiB: peakRssMiB() + sum(children),
      childrenMiB: children,
      // User and system CPU of the process and of its children (as last read: a child that ended
      // between two readings loses up to 100 ms).
      treeCpuMs: (user + system) / 1000 + sum([...cpu.values()]),
    };
  };
}

function sum(values) {
  return values.reduce((a, b) => a + b, 0);
}

/** utime + stime of a running process, from /proc/<pid>/stat (in clock ticks of 10 ms). */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {}
  return undefined;
}

function ownPeakMiB(pid) {
  try {
    const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    if (kib > 0) return kib / 1024;
  } catch {}
  return undefined;
}

/** The children started by the main thread (JavaScript's `fork` and `spawn` run there): one read. */
function childPids(parent) {
  try {
    return readFileSync(`/proc/${parent}/task/${parent}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
