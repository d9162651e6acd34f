// Telemetry starts before any other module of the app loads (app.ts imports this first), so
// the Azure SDK clients built later report their calls; buffered spans and metrics are flushed
// when the host stops the app.
import { app } from "@azure/functions";
import { setupTelemetry, shutdownTelemetry } from "../shared/telemetry/setup";

setupTelemetry(process.env);
app.hook.appTerminate(() => shutdownTelemetry());
