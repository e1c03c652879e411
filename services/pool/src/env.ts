/** Every environment variable the pool reads, with its default, meaning and unit. */
import { z } from "zod";

const seconds = (fallback: number) => z.coerce.number().min(0).default(fallback);
const commaSeparated = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) => value.split(",").map((item) => item.trim()).filter(Boolean));

export const PoolEnvSchema = z.object({
  /** NATS servers, comma-separated. */
  FABRIC_NATS_URL: commaSeparated("nats://127.0.0.1:4222"),
  /** Path of the pool's NATS nkey seed file (nkey auth). The pool is trusted, like a gateway. */
  FABRIC_NATS_NKEY: z.string().optional(),
  /** Path of the pool's NATS `.creds` file (JWT auth); wins over FABRIC_NATS_NKEY. */
  FABRIC_NATS_CREDS: z.string().optional(),
  /**
   * How a peer is started. `process`: a bridge with headless Blender as a child process of the
   * pool. `knative`: an HTTP request to the project's Knative Service (FABRIC_POOL_KNATIVE_URL)
   * wakes it; Knative starts and stops the pod.
   */
  FABRIC_POOL_LAUNCHER: z.enum(["process", "knative"]).default("process"),
  /** Most peers the pool runs at once (warm ones included). */
  FABRIC_POOL_MAX_PEERS: z.coerce.number().int().min(1).default(4),
  /**
   * Most peers the pool runs at once for one user (tenant quota; warm ones count but are
   * always started), so one tenant's burst cannot take every place.
   */
  FABRIC_POOL_MAX_PEERS_PER_USER: z.coerce.number().int().min(1).default(2),
  /** Peers kept running for FABRIC_POOL_WARM_USER whatever the demand (no idle exit). */
  FABRIC_POOL_WARM: z.coerce.number().int().min(0).default(0),
  /** The user whose bus the warm peers join. */
  FABRIC_POOL_WARM_USER: z.string().min(1).default("dev"),
  /** Bus uuid prefix of the warm peers: `<prefix>-1`, `<prefix>-2`, … */
  FABRIC_POOL_WARM_PREFIX: z.string().min(1).default("blender-warm"),
  /** A peer started for demand exits after this long with nothing to do (scale to zero). Seconds. */
  FABRIC_IDLE_SECONDS: seconds(60),
  /** Capabilities of the peers the pool starts, comma-separated. */
  FABRIC_POOL_CAPABILITIES: commaSeparated("python_execution,rendering"),
  /** Addon preferences of the peers the pool starts, as JSON (e.g. {"enable_polyhaven": true}). */
  FABRIC_POOL_ADDON_PREFS: z.string().default("{}"),
  /**
   * Bridges kept started ahead of demand (`process` launcher): loaded, without Blender, waiting
   * to become the next peer, so a cold start skips Node's start and the bridge's module
   * loading (services/bridge/src/standby.ts). Each is a Node process of 70-80 MB that
   * holds no place among FABRIC_POOL_MAX_PEERS. 0: none.
   */
  FABRIC_POOL_STANDBY: z.coerce.number().int().min(0).max(4).default(1),
  /** NATS nkey seed file handed to the peers it starts (local fabric). */
  FABRIC_POOL_BRIDGE_NKEY: z.string().optional(),
  /**
   * File with the fabric NATS account's seed: each started peer gets its own credential,
   * scoped to its tenant, uuid, group and project (production NATS). Wins over FABRIC_POOL_BRIDGE_NKEY.
   */
  FABRIC_NATS_ACCOUNT_SEED_FILE: z.string().optional(),
  /** Where the pool records the peers it started, to clean up after a crash of its own. */
  FABRIC_POOL_STATE_DIR: z.string().default(".fabric/pool"),
  /**
   * `knative` launcher: the URL that wakes a project's peer; `{user}` and `{project}` are
   * replaced by the ids (lowercase DNS labels in a cluster), e.g.
   * `http://blender-{project}.fabric.svc.cluster.local/readyz`.
   */
  FABRIC_POOL_KNATIVE_URL: z.string().default(""),
  /** Port of the health endpoint (/healthz, /readyz with the pool's peers); 0: none. */
  FABRIC_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Interface of the health endpoint (0.0.0.0 in a pod). */
  FABRIC_HEALTH_HOST: z.string().default("127.0.0.1"),
  /** A client silent this long is not live (as the gateway counts it). Seconds. */
  FABRIC_STALE_AFTER_SECONDS: seconds(30),
  /** JetStream replicas of the buckets, if the pool creates them. */
  FABRIC_KV_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  FABRIC_LOG_LEVEL: z.string().default("info"),
});
export type PoolEnv = z.infer<typeof PoolEnvSchema>;

export const readPoolEnv = (source: Record<string, string | undefined> = process.env): PoolEnv => PoolEnvSchema.parse(source);
