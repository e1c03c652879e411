export * from "./mint.js";
export * from "./verify.js";
