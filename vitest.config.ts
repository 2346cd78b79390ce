import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // The emulator is not the 1min.ai API: what it makes is kept only when asked (SPEC §5). The tests
    // ask, as a demo does; test/reliability/persistence.test.ts checks the default.
    env: { IMAGEGEN_PERSISTENT: "1" },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
