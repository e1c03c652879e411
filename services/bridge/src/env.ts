/** Every environment variable the bridge reads, with its default, meaning and unit. */
import { z } from "zod";
// The light entry: the bridge checks its environment before Blender starts, so the whole wire
// catalog is not loaded ahead of it (tens of ms of a cold start).
import { ProjectIdSchema } from "@blender-fabric/protocol/project";
// Blender starts from the raw environment before this schema loads: it shares these defaults.
import { BLENDER_START_DEFAULTS as BLENDER, SANDBOX_MODES, defaultClientUuid, splitList } from "./blender-start.js";

const seconds = (fallback: number) => z.coerce.number().positive().default(fallback);
const commaSeparated = (fallback: string) => z.string().default(fallback).transform(splitList);

export const BridgeEnvSchema = z.object({
  /** NATS servers, comma-separated. */
  FABRIC_NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** Path of this process's NATS nkey seed file (nkey auth). */
  FABRIC_NATS_NKEY: z.string().optional(),
  /** Path of this process's NATS `.creds` file (JWT auth); wins over FABRIC_NATS_NKEY. */
  FABRIC_NATS_CREDS: z.string().optional(),
  /**
   * With neither credential file: a gateway (e.g. http://gateway:8080) that mints this peer's
   * NATS credential for FABRIC_TOKEN, a fabric token with role blender-client.
   */
  FABRIC_GATEWAY_URL: z.string().optional(),
  FABRIC_TOKEN: z.string().optional(),
  /** The user whose bus this peer joins (its NATS credentials are limited to user.<u>.>). */
  FABRIC_USER: z.string().min(1).default("dev"),
  /** This peer's uuid on the bus. */
  FABRIC_CLIENT_UUID: z.string().min(1).default(defaultClientUuid),
  FABRIC_CLIENT_TYPE: z.string().min(1).default("blender"),
  FABRIC_LABEL: z.string().optional(),
  FABRIC_GROUP_ID: z.string().optional(),
  /**
   * The project this peer serves: it opens the project's saved scene at start, takes the
   * work sent to `project:<id>`, and saves the scene back when it stops. Such a peer is never
   * a farm worker. Unset: a peer of no project.
   */
  FABRIC_PROJECT_ID: ProjectIdSchema.optional(),
  /**
   * A project's peer saves the scene this often while jobs run (and always when it stops),
   * so a crash loses at most this much work. 0: only when it stops. Seconds.
   */
  FABRIC_PROJECT_SAVE_SECONDS: z.coerce.number().min(0).default(60),
  /** Exit after this long with nothing to do, saving a project's scene first (scale to zero). 0: never. Seconds. */
  FABRIC_IDLE_SECONDS: z.coerce.number().min(0).default(0),
  /**
   * Start ahead of demand and wait for this peer's whole environment as a JSON line on stdin
   * (standby.ts: a pool keeps one such bridge). Read before this schema; a started peer no
   * longer has it.
   */
  FABRIC_STANDBY: z.enum(["true", "false"]).default("false"),
  /** Stop when standard input closes: a peer started by the pool ends with the pool, even one killed -9. */
  FABRIC_EXIT_WITH_STDIN: z.enum(["true", "false"]).default("false").transform((value) => value === "true"),
  /** How long a stopping peer lets its running job finish before it saves and exits. Seconds. */
  FABRIC_DRAIN_SECONDS: seconds(20),
  /**
   * Whether the peer takes farm tasks that name no group (the user's farm pool). `auto`: yes
   * in spawn mode, never in attach mode (an artist's Blender keeps its scene).
   */
  FABRIC_FARM_WORKER: z.enum(["auto", "true", "false"]).default("auto"),
  /** Comma-separated, e.g. `python_execution,rendering,gpu`. */
  FABRIC_CAPABILITIES: commaSeparated("python_execution,rendering"),
  /** `spawn`: start and supervise headless Blender. `attach`: connect to a GUI Blender's addon. */
  FABRIC_MODE: z.enum(["spawn", "attach"]).default("spawn"),
  /** Blender executable for spawn mode. */
  FABRIC_BLENDER: z.string().default(BLENDER.FABRIC_BLENDER),
  /** A .blend file spawn mode opens; empty: the factory scene. */
  FABRIC_BLEND_FILE: z.string().default(BLENDER.FABRIC_BLEND_FILE),
  /**
   * Spawn mode: how Blender is confined, so code run in it cannot read this bridge's
   * credentials (blender-sandbox.ts). `auto`: bubblewrap when it works here, else a warning
   * and no sandbox. `bwrap`: bubblewrap or the bridge does not start. `off`: no sandbox
   * (Blender still gets only an allow-listed environment).
   */
  FABRIC_SANDBOX: z.enum(SANDBOX_MODES).default(BLENDER.FABRIC_SANDBOX),
  /**
   * Folders a sandboxed Blender may also read and write, at the same path (comma-separated,
   * absolute; created if missing), e.g. an asset library or a render output share. Never a
   * folder that holds credentials: code run in Blender can read all of it.
   */
  FABRIC_SANDBOX_SHARE: commaSeparated(BLENDER.FABRIC_SANDBOX_SHARE),
  /** Addon preferences for spawn mode, as JSON (e.g. {"enable_polyhaven": true}). */
  FABRIC_ADDON_PREFS: z.string().default(BLENDER.FABRIC_ADDON_PREFS),
  /** Attach mode: where the GUI addon listens, and its token. */
  FABRIC_ADDON_HOST: z.string().default("127.0.0.1"),
  FABRIC_ADDON_PORT: z.coerce.number().int().min(1).max(65535).default(9876),
  FABRIC_ADDON_TOKEN: z.string().default(""),
  /** Where farm scenes (.blend by SHA-256) are kept between jobs; empty: a folder in the OS temp dir. */
  FABRIC_BLEND_CACHE: z.string().default(BLENDER.FABRIC_BLEND_CACHE),
  /** Port of the health endpoint (/healthz, /readyz); 0: none. */
  FABRIC_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Interface of the health endpoint (0.0.0.0 in a pod). */
  FABRIC_HEALTH_HOST: z.string().default("127.0.0.1"),
  /** How often the peer refreshes its registry entry. Seconds. */
  FABRIC_HEARTBEAT_SECONDS: seconds(10),
  /** JetStream replicas of the buckets, if this bridge creates them. */
  FABRIC_KV_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  FABRIC_LOG_LEVEL: z.string().default("info"),
});
export type BridgeEnv = Omit<z.infer<typeof BridgeEnvSchema>, "FABRIC_FARM_WORKER"> & { FABRIC_FARM_WORKER: boolean };

export const readBridgeEnv = (source: Record<string, string | undefined> = process.env): BridgeEnv =>
  BridgeEnvSchema.transform((env) => ({
    ...env,
    // A project's peer keeps its project's scene: never a farm worker.
    FABRIC_FARM_WORKER: env.FABRIC_PROJECT_ID
      ? false
      : env.FABRIC_FARM_WORKER === "auto"
        ? env.FABRIC_MODE === "spawn"
        : env.FABRIC_FARM_WORKER === "true",
  })).parse(source);
