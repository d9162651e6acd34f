// The activity boundary (one way across it): registries, calls, the one failure. Orchestrators
// import from here; registration code imports register.ts directly (it needs the Functions app).
export { all, call, task, type Gen, type Pending } from "./call";
export { decodeFailure, WorkflowError, type Failure } from "./failure";
export { defineActivities, namesOf, retryPolicy, type ActivityDef, type ActivityDefs, type InputOf, type OutputOf, type RetryPolicy } from "./registry";
