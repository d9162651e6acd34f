import { defineConfig } from "vitest/config";
import base from "./vitest.config";

// Unit tests only: what mutation testing (stryker.config.mjs) runs against each mutant.
// Not mergeConfig: it concatenates `include` arrays, which brought back every test file,
// integration tests with Azurite and the local host included.
export default defineConfig({ ...base, test: { ...base.test, include: ["test/unit/**/*.test.ts"] } });
