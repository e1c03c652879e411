/** Job records in `fabric_jobs` (DESIGN.md section 3). Status moves forward only. */
import { z } from "zod";

/**
 * `expired`: never started, because its deadline passed first. `lost`: the peer incarnation
 * that was running it died, so nobody knows how far it got.
 */
export const JOB_STATUSES = ["queued", "running", "completed", "failed", "cancelled", "lost", "expired"] as const;
export const JobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatusSchema>;

export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set([
  "completed",
  "failed",
  "cancelled",
  "lost",
  "expired",
]);

export const isTerminalJobStatus = (status: string): boolean =>
  TERMINAL_JOB_STATUSES.has(status as JobStatus);

/** queued -> running -> terminal; a terminal record never changes again. */
export function canAdvanceJob(from: JobStatus, to: JobStatus): boolean {
  if (isTerminalJobStatus(from)) return false;
  if (from === "running") return to !== "queued";
  return true;
}

/**
 * `message` is for plain bus messages sent with a `from_uuid` (proposals, announcements):
 * they are recorded so a later `blender_job_update` finds its originator, as in the seed.
 */
/** `farm`: the parent of a farm job's tasks (each task is a `script` job with `parent_job_id`). */
export const JobKindSchema = z.enum(["command", "script", "render", "message", "farm"]);
export type JobKind = z.infer<typeof JobKindSchema>;

/** A file a job stored (in its tenant's artifact store), as its record lists it. */
export const StoredArtifactSchema = z.object({
  /** `<u>/<job>/<file>`, each part token-encoded. */
  name: z.string(),
  size: z.number().int().min(0),
  /** Hex SHA-256 of the bytes. */
  sha256: z.string(),
  content_type: z.string(),
  /** ISO 8601. */
  stored_at: z.string(),
});
export type StoredArtifact = z.infer<typeof StoredArtifactSchema>;

export const JobRecordSchema = z.object({
  job_id: z.string(),
  bus_id: z.string(),
  originator_uuid: z.string().nullable(),
  target_uuid: z.string().nullable(),
  kind: JobKindSchema,
  command: z.string().nullable(),
  status: JobStatusSchema,
  /** 0..1 */
  progress: z.number().min(0).max(1),
  progress_message: z.string(),
  result: z.unknown(),
  error: z.string(),
  /** Seconds since the epoch. */
  created_at: z.number(),
  /** Seconds since the epoch. */
  updated_at: z.number(),
  /** Work not started by then is never started (seconds since the epoch); null: no deadline. */
  deadline: z.number().nullable().default(null),
  /** The bridge boot that moved the job to `running`; its death makes the job `lost`. */
  incarnation: z.string().nullable().default(null),
  /** When a peer moved it to `running`. Seconds since the epoch. */
  started_at: z.number().nullable().default(null),
  /** The caller's idempotency key, when it gave one. */
  request_id: z.string().nullable().default(null),
  /** A farm task's farm job. */
  parent_job_id: z.string().nullable().default(null),
  /**
   * The files its peer stored for it, noted as each is stored while the peer holds the job,
   * so a job's files are known without listing the tenant's store (a farm attempt's frames).
   */
  artifacts: z.array(StoredArtifactSchema).default([]),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;

export type NewJobFields = Pick<JobRecord, "job_id" | "bus_id" | "originator_uuid" | "target_uuid" | "kind" | "command"> &
  Partial<Pick<JobRecord, "deadline" | "request_id" | "parent_job_id">>;

/** A new, queued job: the caller says what and for whom; progress and times start fresh. */
export function newJobRecord(fields: NewJobFields, now: number = Date.now() / 1000): JobRecord {
  return {
    deadline: null,
    request_id: null,
    parent_job_id: null,
    ...fields,
    status: "queued",
    progress: 0,
    progress_message: "",
    result: null,
    error: "",
    created_at: now,
    updated_at: now,
    incarnation: null,
    started_at: null,
    artifacts: [],
  };
}

/** What bridges and `blender_job_update` publish on `user.<u>.job.<id>`. */
export const JobEventSchema = z.object({
  kind: z.literal("job_update"),
  job_id: z.string(),
  status: z.string(),
  progress: z.number().min(0).max(1).optional(),
  progress_message: z.string().optional(),
  result: z.unknown().optional(),
  error: z.string().optional(),
  /** The peer that ran the job (a `project:<id>` dispatch learns here which peer took it). */
  peer_uuid: z.string().optional(),
  /** The addon handler's own time, for telling Blender's share from the fabric's. ms */
  handler_ms: z.number().optional(),
  /** Seconds since the epoch. */
  timestamp: z.number(),
});
export type JobEvent = z.infer<typeof JobEventSchema>;
