/** Every environment variable the gateway reads, with its default, meaning and unit. */
import { hostname } from "node:os";
import { z } from "zod";
import { jwtSecretProblem, newJwtSecret } from "@blender-fabric/auth";
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
  /**
   * HS256 secret for bearer JWTs, at least 32 characters (`openssl rand -hex 32`). Ignored when
   * FABRIC_JWKS_URL is set. With neither, the gateway refuses to start outside dev mode.
   */
  FABRIC_JWT_SECRET: z
    .string()
    .superRefine((secret, context) => {
      const problem = jwtSecretProblem(secret);
      if (problem) context.addIssue({ code: "custom", message: `unusable: ${problem}` });
    })
    .optional(),
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
  FABRIC_SESSION_IDLE_SECONDS: seconds(30 * 60).refine((value) => value <= 24 * 3600, "at most 86400 (the session bucket's max age)"),
  /**
   * How long a finished dispatch or script without a request id stays readable (job_status);
   * then its record is purged. Farm jobs, jobs with a request id and bus messages keep 24 h. Seconds.
   */
  FABRIC_FINISHED_JOB_RETENTION_SECONDS: seconds(600),
  /** Quota: bytes of artifacts (frames, screenshots, large results) one tenant may store. */
  FABRIC_TENANT_ARTIFACT_BYTES: z.coerce.number().int().positive().default(50 * 1024 ** 3),
  /** Quota: bytes of .blend files and project scenes one tenant may store. */
  FABRIC_TENANT_BLEND_BYTES: z.coerce.number().int().positive().default(20 * 1024 ** 3),
  /** Quota: queued and running jobs (farm tasks included) one user may have; more answers quota_exceeded. */
  FABRIC_MAX_UNFINISHED_JOBS: z.coerce.number().int().positive().default(20_000),
  /** Quota: live MCP sessions one user may hold; one more answers 429 quota_exceeded. */
  FABRIC_MAX_SESSIONS_PER_USER: z.coerce.number().int().positive().default(64),
  /** Quota: MCP sessions one user may begin per minute. */
  FABRIC_SESSIONS_PER_MINUTE: z.coerce.number().int().positive().default(60),
  /** How many MCP sessions one replica keeps in memory, the most recently used; others are read from KV when used. */
  FABRIC_SESSIONS_HELD: z.coerce.number().int().positive().default(10_000),
  /** Largest `payload` of blender_send_message, as JSON. Bytes. */
  FABRIC_MAX_PAYLOAD_BYTES: z.coerce.number().int().positive().default(DEFAULT_MAX_PAYLOAD_BYTES),
  /**
   * Host names served besides loopback names, comma-separated (e.g. `fabric.example.com`). Unset:
   * only loopback names when bound to loopback, any host when bound to a public interface.
   */
  FABRIC_ALLOWED_HOSTS: z.string().default("").transform(commaList),
  /**
   * Host names served on POST /nats/credentials besides FABRIC_ALLOWED_HOSTS and loopback names,
   * comma-separated (e.g. `gateway,gateway.blender-fabric.svc.cluster.local`): bridges inside a
   * cluster call the gateway by its Service name, which the public allowlist must not carry.
   * Only adds to a FABRIC_ALLOWED_HOSTS that is set (an empty one already serves any host).
   */
  FABRIC_CREDENTIAL_HOSTS: z.string().default("").transform(commaList),
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
  /**
   * A throwaway local gateway (`npm start` sets it): without FABRIC_JWT_SECRET or JWKS it makes
   * a random secret of its own, and an old nats-server is not warned about. Never in production.
   */
  FABRIC_DEV_MODE: z.enum(["true", "false"]).default("false").transform((value) => value === "true"),
  /**
   * `true`: SIGINT does not stop this replica (SIGTERM does). `npm start` sets it: Ctrl-C reaches
   * every process of the terminal, and the gateway must go on serving the peer API until the
   * pool's peers have saved their projects through it; `up` stops it afterwards.
   */
  FABRIC_IGNORE_SIGINT: z.enum(["true", "false"]).default("false").transform((value) => value === "true"),
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  FABRIC_LOG_LEVEL: z.string().default("info"),
  /** This replica's name in logs and NATS connection lists. */
  FABRIC_GATEWAY_NAME: z.string().default(`gateway-${hostname()}-${process.pid}`),
});

export type GatewayEnv = Omit<z.infer<typeof GatewayEnvSchema>, "FABRIC_JWT_SECRET"> & {
  /**
   * The HS256 secret in force: FABRIC_JWT_SECRET, or (dev mode without one, or JWKS) a random
   * one of this process that no token outside it is signed with.
   */
  FABRIC_JWT_SECRET: string;
  /** Whether FABRIC_JWT_SECRET was made for this process in dev mode (worth a warning). */
  jwtSecretGenerated: boolean;
};

/** A configuration the gateway must not start with; the message is one line for the operator. */
export class GatewayConfigError extends Error {
  override name = "GatewayConfigError";
}

const NO_KEY_MESSAGE =
  "no way to verify tokens: set FABRIC_JWT_SECRET (at least 32 characters, e.g. `openssl rand -hex 32`), " +
  "or FABRIC_JWKS_URL with FABRIC_JWT_ISSUER and FABRIC_JWT_AUDIENCE; " +
  "or FABRIC_DEV_MODE=true for a throwaway local gateway with a random secret";

/** The gateway's settings; throws GatewayConfigError for any it cannot start with. */
export function readGatewayEnv(source: Record<string, string | undefined> = process.env): GatewayEnv {
  const parsed = GatewayEnvSchema.safeParse(source);
  if (!parsed.success) {
    throw new GatewayConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; "));
  }
  const { FABRIC_JWT_SECRET: configured, ...env } = parsed.data;
  if (env.FABRIC_JWKS_URL && !(env.FABRIC_JWT_ISSUER && env.FABRIC_JWT_AUDIENCE)) {
    throw new GatewayConfigError("FABRIC_JWKS_URL needs FABRIC_JWT_ISSUER and FABRIC_JWT_AUDIENCE");
  }
  if (configured === undefined && !env.FABRIC_JWKS_URL && !env.FABRIC_DEV_MODE) throw new GatewayConfigError(NO_KEY_MESSAGE);
  return {
    ...env,
    FABRIC_JWT_SECRET: configured ?? newJwtSecret(),
    jwtSecretGenerated: configured === undefined && !env.FABRIC_JWKS_URL,
  };
}
