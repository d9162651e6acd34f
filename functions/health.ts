import { app } from "@azure/functions";

// Placeholder until the health checks land; replaced in the host issue.
app.http("health", {
  route: "health",
  methods: ["GET"],
  authLevel: "anonymous",
  handler: async () => ({ status: 200, jsonBody: { status: "ok" } }),
});
