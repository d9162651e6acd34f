// The API's types, from the client generated off the OpenAPI document (client/schema.ts).
export type { Instance, Job, Operation, Sizes, CreateInstanceBody, JobSubmissionBody } from "../../client/api";
import type { Instance } from "../../client/api";
export type InstanceState = Instance["state"];
