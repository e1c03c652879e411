/** The pool is a service (main.ts); its environment schema is what deploy/ manifests are checked against. */
export { PoolEnvSchema, readPoolEnv, type PoolEnv } from "./env.js";
