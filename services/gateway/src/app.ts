/** The gateway's HTTP surface: /mcp, /artifacts, /blends, /ui (the dashboard), /healthz, /readyz, /metrics. */
import { Hono } from "hono";
import { createTokenVerifier, type TokenVerifier } from "@blender-fabric/auth";
import type { GatewayEnv } from "./env.js";
import type { GatewayServices } from "./services.js";
import type { GatewayMetrics } from "./metrics.js";
import type { Logger } from "./logger.js";
import { createToolCatalog } from "./mcp/tool-catalog.js";
import { createFabricTools } from "./tools/fabric-tools.js";
import { createArtifactsRoute } from "./http/artifacts-route.js";
import { mountBlendRoutes } from "./http/blends-route.js";
import { mountNatsCredentialRoutes } from "./http/nats-credentials-route.js";
import type { AuthVariables } from "./http/auth-middleware.js";
import { createAuthMiddleware } from "./http/auth-middleware.js";
import { createSessionMiddleware } from "./http/session-middleware.js";
import { createMcpEndpoint } from "./http/mcp-endpoint.js";
import { createGenerationRouter } from "./http/mcp-generations.js";
import { createStatelessEndpoint } from "./mcp/stateless/stateless-endpoint.js";
import { createErrorHandler } from "./http/errors.js";
import { createCookieAuth, createDashboardRoutes } from "./ui/dashboard-routes.js";
import { UiViews } from "./ui/ui-views.js";
import { createBodyCap, createEdgeGuard } from "./http/edge-guard.js";

export type GatewayAppOptions = {
  env: GatewayEnv;
  services: GatewayServices;
  metrics: GatewayMetrics;
  logger: Logger;
};

export function createTokenVerifierFromEnv(env: GatewayEnv): TokenVerifier {
  if (env.FABRIC_JWKS_URL) {
    return createTokenVerifier({
      kind: "jwks",
      jwksUrl: env.FABRIC_JWKS_URL,
      issuer: env.FABRIC_JWT_ISSUER ?? "",
      audience: env.FABRIC_JWT_AUDIENCE ?? "",
    });
  }
  return createTokenVerifier({
    kind: "secret",
    secret: env.FABRIC_JWT_SECRET,
    issuer: env.FABRIC_JWT_ISSUER,
    audience: env.FABRIC_JWT_AUDIENCE,
  });
}

export function createGatewayApp({ env, services, metrics, logger }: GatewayAppOptions): Hono {
  const catalog = createToolCatalog(createFabricTools({ maxPayloadBytes: env.FABRIC_MAX_PAYLOAD_BYTES }));
  const verifyToken = createTokenVerifierFromEnv(env);
  const app = new Hono();
  app.onError(createErrorHandler(logger));

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    const ready = !services.nc.isClosed() && services.nc.info !== undefined;
    // Which NATS server this replica is on: operators (and the failover test) want to know.
    const natsServer = services.nc.info?.server_name;
    return c.json({ status: ready ? "ready" : "not_ready", nats_server: natsServer }, ready ? 200 : 503);
  });
  app.get("/metrics", async (c) =>
    c.text(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );

  // Every route that acts for a user; probes and /metrics stay reachable by any Host.
  const guardEdge = createEdgeGuard({ boundTo: env.FABRIC_HTTP_HOST, allowedHosts: env.FABRIC_ALLOWED_HOSTS, allowedOrigins: env.FABRIC_ALLOWED_ORIGINS });

  const mcp = new Hono();
  mcp.use(guardEdge);
  mcp.use(createBodyCap(env.FABRIC_MAX_BODY_BYTES, "FABRIC_MAX_BODY_BYTES"));
  mcp.use(createAuthMiddleware(verifyToken));
  mcp.use(createGenerationRouter(createStatelessEndpoint({ services, env, logger, metrics, catalog, listens: services.listens })));
  mcp.use(
    createSessionMiddleware(services.sessions, {
      FABRIC_MAX_SESSIONS_PER_USER: env.FABRIC_MAX_SESSIONS_PER_USER,
      FABRIC_SESSIONS_PER_MINUTE: env.FABRIC_SESSIONS_PER_MINUTE,
    }),
  );
  mcp.on(["POST", "GET", "DELETE"], "/", createMcpEndpoint({ services, env, logger, metrics, catalog }));
  app.route("/mcp", mcp);

  const artifacts = new Hono<{ Variables: AuthVariables }>();
  artifacts.use(guardEdge);
  // The dashboard's cookie counts too: its images and download links are plain GETs.
  artifacts.use(createCookieAuth(verifyToken));
  artifacts.get("/:user/:job/:file", createArtifactsRoute(services.artifacts));
  app.route("/artifacts", artifacts);

  const guardDashboardEdge = createEdgeGuard(
    { boundTo: env.FABRIC_HTTP_HOST, allowedHosts: env.FABRIC_ALLOWED_HOSTS, allowedOrigins: env.FABRIC_ALLOWED_ORIGINS },
    { sameOriginPasses: true },
  );
  app.route("/ui", createDashboardRoutes({ verifyToken, views: new UiViews(catalog, services, env), services, guardEdge: guardDashboardEdge }));

  const blends = new Hono<{ Variables: AuthVariables }>();
  blends.use(guardEdge);
  blends.use(createAuthMiddleware(verifyToken));
  mountBlendRoutes(blends, services.blends, env.FABRIC_MAX_BLEND_BYTES, env.FABRIC_TENANT_BLEND_BYTES);
  app.route("/blends", blends);

  // In-cluster bridges ask here by the gateway's Service name (FABRIC_CREDENTIAL_HOSTS), a Host
  // the public routes must keep refusing. An empty FABRIC_ALLOWED_HOSTS serves any host already.
  const credentialHosts = env.FABRIC_ALLOWED_HOSTS.length === 0 ? [] : [...env.FABRIC_ALLOWED_HOSTS, ...env.FABRIC_CREDENTIAL_HOSTS];
  const guardCredentialEdge = createEdgeGuard({ boundTo: env.FABRIC_HTTP_HOST, allowedHosts: credentialHosts, allowedOrigins: env.FABRIC_ALLOWED_ORIGINS });
  const natsCredentials = new Hono<{ Variables: AuthVariables }>();
  natsCredentials.use(guardCredentialEdge);
  natsCredentials.use(createBodyCap(64 * 1024, "peer credential requests"));
  natsCredentials.use(createAuthMiddleware(verifyToken));
  mountNatsCredentialRoutes(natsCredentials, {
    accountSeedFile: env.FABRIC_NATS_ACCOUNT_SEED_FILE,
    lifetimeSeconds: env.FABRIC_PEER_CREDENTIAL_SECONDS,
  });
  app.route("/nats", natsCredentials);
  return app;
}
