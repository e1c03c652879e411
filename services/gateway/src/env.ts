/** Every environment variable the gateway reads, with its default, meaning and unit. */
import { hostname } from "node:os";
import { z } from "zod";
import { DEV_JWT_SECRET } from "@blender-fabric/auth";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "@blender-fabric/protocol";

const seconds = (fallback: number) => z.coerce.number().positive().default(fallback);
const commaList = (value: string) => value.split(",").map((item) => item.trim()).filter(Boolean);

export const GatewayEnvSchema = z.object({
  /** NATS servers, comma-separated; list every cluster node so the gateway can fail over. */
  FABRIC_NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** Path of this process's NATS nkey seed file (nkey auth). */
  FABRIC_NATS_NKEY: z.string().optional(),
  /** Path of this process's NATS `.creds` file (JWT auth); wins over FABRIC_NATS_NKEY. */
  FABRIC_NATS_CREDS: z.string().optional(),
  /** Interface the HTTP server binds; 0.0.0.0 in containers. */
  FABRIC_HTTP_HOST: z.string().default("127.0.0.1"),
  /** HTTP port; 0 picks a free one (printed at start). */
  FABRIC_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** HS256 secret for bearer JWTs (dev default). Ignored when FABRIC_JWKS_URL is set. */
  FABRIC_JWT_SECRET: z.string().min(16).default(DEV_JWT_SECRET),
  /** Production: a JWKS URL; then FABRIC_JWT_ISSUER and FABRIC_JWT_AUDIENCE are required. */
  FABRIC_JWKS_URL: z.url().optional(),
  FABRIC_JWT_ISSUER: z.string().optional(),
  FABRIC_JWT_AUDIENCE: z.string().optional(),
  /** JetStream replicas of the fabric's buckets: 1 on one server, 3 in a cluster. */
  FABRIC_KV_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** A client silent this long is stale: hidden from lists, skipped by auto-pick. Seconds. */
  FABRIC_STALE_AFTER_SECONDS: seconds(30),
  /** A client silent this long is removed from the registry. Seconds. */
  FABRIC_EVICT_AFTER_SECONDS: seconds(3600),
  /** How often a notification stream refreshes `last_seen` of its session's clients. Seconds. */
  FABRIC_HEARTBEAT_SECONDS: seconds(10),
  /** An MCP session idle this long expires. Seconds. */
  FABRIC_SESSION_IDLE_SECONDS: seconds(24 * 3600).refine((value) => value <= 24 * 3600, "at most 86400 (the session bucket's max age)"),
  /** Largest `payload` of blender_send_message, as JSON. Bytes. */
  FABRIC_MAX_PAYLOAD_BYTES: z.coerce.number().int().positive().default(DEFAULT_MAX_PAYLOAD_BYTES),
  /**
   * Host names served besides loopback names, comma-separated (e.g. `fabric.example.com`). Unset:
   * only loopback names when bound to loopback, any host when bound to a public interface.
   */
  FABRIC_ALLOWED_HOSTS: z.string().default("").transform(commaList),
  /** Browser origins accepted besides loopback ones, comma-separated, exact (e.g. `https://console.example.com`). */
  FABRIC_ALLOWED_ORIGINS: z.string().default("").transform(commaList),
  /** Largest request body of /mcp. Bytes. */
  FABRIC_MAX_BODY_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  /**
   * File with the fabric NATS account's seed (from `blender-fabric nats-setup`, accounts.json's
   * accountSeed): with it, POST /nats/credentials mints peers' credentials. Unset: not offered.
   */
  FABRIC_NATS_ACCOUNT_SEED_FILE: z.string().optional(),
  /** Lifetime of a peer credential minted by POST /nats/credentials. Seconds. */
  FABRIC_PEER_CREDENTIAL_SECONDS: seconds(24 * 3600),
  /** Largest .blend accepted by PUT /blends/<sha256>. Bytes. */
  FABRIC_MAX_BLEND_BYTES: z.coerce.number().int().positive().default(2 * 1024 ** 3),
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  FABRIC_LOG_LEVEL: z.string().default("info"),
  /** This replica's name in logs and NATS connection lists. */
  FABRIC_GATEWAY_NAME: z.string().default(`gateway-${hostname()}-${process.pid}`),
});
export type GatewayEnv = z.infer<typeof GatewayEnvSchema>;

export function readGatewayEnv(source: Record<string, string | undefined> = process.env): GatewayEnv {
  const env = GatewayEnvSchema.parse(source);
  if (env.FABRIC_JWKS_URL && !(env.FABRIC_JWT_ISSUER && env.FABRIC_JWT_AUDIENCE)) {
    throw new Error("FABRIC_JWKS_URL needs FABRIC_JWT_ISSUER and FABRIC_JWT_AUDIENCE");
  }
  return env;
}
