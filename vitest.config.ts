import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start Azurite, hosts and emulators as child processes.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run files one or two at a time so timing-sensitive e2e tests are not starved.
    maxWorkers: 2,
    minWorkers: 1,
    pool: "forks",
  },
});
