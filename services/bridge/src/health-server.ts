/**
 * The bridge's health endpoint (FABRIC_HEALTH_PORT), for Kubernetes probes and for the
 * supervisor that started it (`blender-fabric up`, the pool, tests):
 * - `GET /healthz`: 200 while the process runs;
 * - `GET /readyz`: 200 with `{uuid, blender_pid, incarnation}` once its Blender is registered
 *   on the bus, 503 while it is not (starting, or Blender went away and is coming back).
 */
import { createServer, type Server } from "node:http";

export type Readiness = { uuid: string; blender_pid: number; incarnation: string } | undefined;

export function startHealthServer(host: string, port: number, readiness: () => Readiness): Promise<Server> {
  const server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.url === "/healthz") return send(200, { status: "ok" });
    if (request.url === "/readyz") {
      const ready = readiness();
      return ready ? send(200, { status: "ready", ...ready }) : send(503, { status: "not_ready" });
    }
    send(404, { error: "not found" });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
