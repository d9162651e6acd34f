import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config";

// Unit tests only: what mutation testing (stryker.config.mjs) runs against each mutant.
export default mergeConfig(
  base,
  defineConfig({ test: { include: ["test/unit/**/*.test.ts"] } }),
);
