// GET /api/openapi.json (anonymous): the OpenAPI 3.1 document generated from the zod schemas
// that validate requests, so the contract and the code cannot drift apart.
import { ROUTES } from "../shared/api/routes";
import { httpRoute } from "./http/api";
import { buildOpenApiDocument } from "../shared/openapi";

let doc: Record<string, unknown> | undefined;

httpRoute(ROUTES.openApi, async (req) => {
  doc ??= buildOpenApiDocument({ serverUrl: new URL(req.url).origin });
  return { status: 200, jsonBody: doc };
});
