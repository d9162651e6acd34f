// The typed client (client/schema.ts) is generated from the OpenAPI document; this fails while
// the committed file is stale, so the CLI and the portal never compile against an old contract.
import fs from "node:fs";
import { expect, it } from "vitest";
import { generateClientSchema, SCHEMA_FILE } from "../../client/generate";

it("client/schema.ts matches the OpenAPI document (npm run gen:client regenerates it)", async () => {
  expect(fs.readFileSync(SCHEMA_FILE, "utf8") === (await generateClientSchema())).toBe(true);
});
