export * from "./recordTable";
export * from "./instances";
export * from "./jobs";
export * from "./operations";
export * from "./idempotency";
