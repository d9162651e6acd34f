export * from "./common";
export * from "./instance";
export * from "./job";
export * from "./operation";
export * from "./sizes";
