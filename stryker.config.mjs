// Mutation testing of the domain rules (`npm run mutation`; not part of `npm test`).
// Scores per module are in README.md ("Test strength"). The job queue's decision step is the pure
// dispatcher (shared/jobs/dispatcher.ts) that the queue entity (orchestrations/jobs/queueEntity.ts)
// steps; the entity and its driver are I/O glue and are covered by the orchestration tests instead.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.unit.config.ts" },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.mutation.json",
  // Stryker's default prefixes every sandbox .ts file with `// @ts-nocheck`, for runners that
  // type-check while testing. Vitest only transpiles (the checker above type-checks mutants), and
  // the prefix changed files the unit tests read as data: clientSchema.test.ts compares
  // client/schema.ts with the generated text and failed the initial test run in the sandbox.
  disableTypeChecks: false,
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: "perTest",
  mutate: [
    "shared/rbac.ts",
    "shared/instances/stateMachine.ts",
    "shared/idle.ts",
    "shared/schedules.ts",
    "shared/policies/*.ts",
    "shared/instances/validate.ts",
    "shared/validation.ts",
    "shared/sshKey.ts",
    "shared/cidr.ts",
    "shared/autostop/plan.ts",
    "shared/jobs/dispatcher.ts",
  ],
  // The machine is shared (2 cores): one test-runner process at a time.
  concurrency: 1,
  // Re-test only mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
