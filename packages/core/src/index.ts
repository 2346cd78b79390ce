export * from "./spec.js";
export * from "./provider.js";
export * from "./errors.js";
export type * from "./options.js";
