/**
 * The health endpoint a supervised service serves (the bridge, the pool), and what the
 * supervisor and Kubernetes probes read:
 * - `GET /healthz`: 200 while the process runs;
 * - `GET /readyz`: 200 with `{status: "ready", ...details}` when the service says it is ready,
 *   else 503 with `{status: "not_ready", ...details}`.
 */
import { createServer, type Server } from "node:http";

export type Readiness = { ready: boolean; details: Record<string, unknown> };

export function startHealthEndpoint(host: string, port: number, readiness: () => Readiness): Promise<Server> {
  const server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.url === "/healthz") return send(200, { status: "ok" });
    if (request.url === "/readyz") {
      const { ready, details } = readiness();
      return send(ready ? 200 : 503, { status: ready ? "ready" : "not_ready", ...details });
    }
    send(404, { error: "not found" });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
