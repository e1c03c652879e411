/**
 * The pool's health endpoint (FABRIC_HEALTH_PORT): `/healthz` while the process runs, and
 * `/readyz` with the peers it runs (200 once its warm peers are up), for probes and for the
 * supervisor that started it (`blender-fabric up`, tests).
 */
import { createServer, type Server } from "node:http";

export type PoolReadiness = { ready: boolean; peers: unknown[] };

export function startHealthServer(host: string, port: number, readiness: () => PoolReadiness): Promise<Server> {
  const server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.url === "/healthz") return send(200, { status: "ok" });
    if (request.url === "/readyz") {
      const { ready, peers } = readiness();
      return send(ready ? 200 : 503, { status: ready ? "ready" : "not_ready", peers });
    }
    send(404, { error: "not found" });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
