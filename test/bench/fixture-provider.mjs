// A custom provider (SPEC §5) that "generates" by returning fixture bytes: the bench seeds the
// store through the same path as a paid generation, with no network and no randomness.
import { readFile } from "node:fs/promises";

/** The prompt of fixture `index`; `fixtureProvider` maps it back to the file. */
export function fixturePrompt(set, index) {
  return `bench ${set} image ${String(index).padStart(2, "0")}`;
}

/** @returns {import("@imagegen/core").Provider & { calls: number }} */
export function fixtureProvider(files) {
  const provider = {
    id: "bench-fixture",
    calls: 0,
    async generate(request) {
      const match = / image (\d+)$/.exec(request.prompt);
      const file = match && files[Number(match[1])];
      if (!file) throw new Error(`no fixture for prompt "${request.prompt}"`);
      provider.calls++;
      return { bytes: await readFile(file), recordId: `fixture-${match[1]}` };
    },
  };
  return provider;
}
