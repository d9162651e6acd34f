// The app's single entry point (package.json "main" → dist/app.js). Importing a module
// registers its functions with the Functions runtime through `@azure/functions`.
import "./functions/telemetry";
import "./functions/health";
import "./functions/autostop";
import "./functions/activityHeartbeat";
import "./functions/instances";
import "./functions/sizes";
import "./functions/operations";
import "./functions/audit";
import "./functions/openapi";
import "./orchestrations/instances/register";
import "./functions/jobs";
import "./functions/jobQueue";
import "./functions/jobReconcile";
import "./functions/agent";
import "./functions/agentSignals";
import "./functions/autostopPostpone";
import "./functions/applications";
import "./orchestrations/jobs/register";
import "./functions/instanceSetupLog";
import "./functions/portal";
