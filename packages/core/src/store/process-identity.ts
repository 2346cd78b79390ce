import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Where a process runs, beyond its host name: containers share a host name, and a pid means
 * something only inside one boot of one kernel and one pid namespace (Linux's `/proc` says which;
 * elsewhere both are unknown and the host name stands alone).
 */
export interface ProcessSpace {
  hostname: string;
  /** `/proc/sys/kernel/random/boot_id`: new at every boot. */
  bootId?: string;
  /** The inode of `/proc/self/ns/pid`, e.g. `pid:[4026531836]`: one per pid namespace (container). */
  pidNamespace?: string;
}

let local: ProcessSpace | undefined;

/** This process's space, read once. */
export function localProcessSpace(): ProcessSpace {
  if (local === undefined) {
    const bootId = attempt(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    const pidNamespace = attempt(() => readlinkSync("/proc/self/ns/pid"));
    local = { hostname: hostname(), ...(bootId && { bootId }), ...(pidNamespace && { pidNamespace }) };
  }
  return local;
}

/**
 * Whether a pid recorded in `space` can be looked up from here: the same host, boot and pid
 * namespace. When it cannot, only the age of what that process left can tell whether it is alive.
 */
export function sharesPidsWith(space: ProcessSpace): boolean {
  const here = localProcessSpace();
  return space.hostname === here.hostname && space.bootId === here.bootId && space.pidNamespace === here.pidNamespace;
}

function attempt(read: () => string): string | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
