// A service started on a port someone else holds fails, saying so, instead of being polled for
// readiness until a timeout; a port the starter probed itself is probed again
// (that path is what the suite's parallel files exercise: the race is not reproducible here).
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startGatewayProcess, startNatsServer, type NatsServer } from "@blender-fabric/supervisor";

let holder: Server;
let takenPort: number;
let nats: NatsServer;

beforeAll(async () => {
  holder = createServer();
  takenPort = await new Promise<number>((resolve) => holder.listen(0, "127.0.0.1", () => resolve((holder.address() as { port: number }).port)));
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
  holder?.close();
});

test("a gateway asked for a port that is taken fails, naming the port, not a readiness timeout", async () => {
  // The holder accepts connections and never answers: a readiness probe without its own
  // timeout would wait on it forever.
  await expect(startGatewayProcess({ natsUrls: [nats.url], port: takenPort, env: { FABRIC_DEV_MODE: "true" } })).rejects.toThrow(`could not listen on port ${takenPort}`);
});

test("a nats-server asked for a port that is taken fails with its own reason", async () => {
  await expect(startNatsServer({ port: takenPort })).rejects.toThrow(/address already in use/u);
});
