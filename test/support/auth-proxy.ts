/**
 * A reverse proxy that adds a bearer token to every request: the MCP conformance suite has
 * no option to send one (its issue #453), and the gateway refuses unauthenticated requests.
 * Everything else passes through untouched, `Host` and `Origin` included, so the gateway's
 * own DNS-rebinding guard is what the suite's rebinding scenario meets. It listens on
 * 127.0.0.1, since that scenario only runs against a loopback URL.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type AuthProxy = { url: string; close(): Promise<void> };

export async function startAuthProxy(target: string, token: string): Promise<AuthProxy> {
  const upstream = new URL(target);
  const server: Server = createServer((incoming, outgoing) => {
    const forwarded = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, authorization: `Bearer ${token}` },
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on("error", () => outgoing.destroy());
    // A client that goes away closes the upstream request too (that is how a 2026 client cancels).
    outgoing.on("close", () => forwarded.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}${upstream.pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
