// GET /api/openapi.json (anonymous): the OpenAPI 3.1 document generated from the zod schemas
// that validate requests, so the contract and the code cannot drift apart.
import { app } from "@azure/functions";
import { buildOpenApiDocument } from "../shared/openapi";

let doc: Record<string, unknown> | undefined;

app.http("openapi", {
  route: "openapi.json",
  methods: ["GET"],
  authLevel: "anonymous",
  handler: async (req) => {
    doc ??= buildOpenApiDocument({ serverUrl: new URL(req.url).origin });
    return { status: 200, jsonBody: doc };
  },
});
