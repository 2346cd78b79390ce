// `node lockfile-writer.mjs <lockfile> <prefix> <count>`: adds <count> entries to a lockfile, one
// read-modify-write each, as fast as it can, to race other processes doing the same.
import { updateLockfile } from "@imagegen/core";

const [file, prefix, count] = process.argv.slice(2);
const entry = { prompt: "p", model: "m", size: "1K", temperature: 1, topP: 0.95, variant: "", sha256: "0".repeat(64), width: 1, height: 1 };
for (let i = 0; i < Number(count); i++) {
  await updateLockfile(file, (lock) => {
    lock.images[`${prefix}${String(i).padStart(3, "0")}`] = { ...entry, prompt: `${prefix}${i}` };
  });
}
