import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // A temp directory shared by the test files of one run (removed at the end).
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests that start processes or servers use free ports; files may run in parallel.
    pool: "forks"
  }
})
