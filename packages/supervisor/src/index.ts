/**
 * Starting and supervising the fabric's processes: nats-server (one, or a cluster), gateway
 * replicas and bridges, each a real child process that is stopped with its parent. `npm
 * start` (`blender-fabric up`) runs on this; the testkit re-exports it for tests.
 */
export * from "./programs.js";
export * from "./ports.js";
export * from "./nats-server.js";
export * from "./child-processes.js";
export * from "./gateway.js";
export * from "./bridge.js";
export * from "./pool.js";
export * from "./health-endpoint.js";
