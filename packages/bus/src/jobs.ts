/**
 * Job records in KV `fabric_jobs`, key `<u>.<job_id>`. They replace the seed's in-memory
 * `_pending_jobs`, so an originator is found again after any gateway restarts. Status moves
 * forward only; duplicate terminal updates are ignored.
 */
import type { KV } from "@nats-io/kv";
import {
  JobRecordSchema,
  JobStatusSchema,
  canAdvanceJob,
  epochSeconds,
  keyForJob,
  keyPrefixForUser,
  type JobRecord,
} from "@blender-fabric/protocol";
import { retryJetStream, updateWithRetry } from "./kv-update.js";
import { parseJsonSafely } from "./safe-json.js";

export type JobAdvance = {
  /** A job status, or another word (e.g. `progress`) that updates progress fields only. */
  status: string;
  progress?: number;
  progress_message?: string;
  result?: unknown;
  error?: string;
};

export type JobAdvanceOutcome = {
  /** The record after the update; undefined when the job is unknown. */
  record: JobRecord | undefined;
  /** False when the update was refused (unknown job, backwards move, duplicate terminal). */
  changed: boolean;
};

export class JobStore {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Stores a new job; a caller reusing a job id starts that job over. */
  async create(record: JobRecord): Promise<void> {
    const key = keyForJob(record.bus_id, record.job_id);
    await retryJetStream("record a job", () => this.#kv.put(key, JSON.stringify(record)));
  }

  async get(userId: string, jobId: string): Promise<JobRecord | undefined> {
    const key = keyForJob(userId, jobId);
    const entry = await retryJetStream("read a job", () => this.#kv.get(key));
    if (!entry || entry.operation !== "PUT") return undefined;
    const parsed = JobRecordSchema.safeParse(parseJsonSafely(entry));
    return parsed.success ? parsed.data : undefined;
  }

  /** The user's jobs, newest first. */
  async list(userId: string): Promise<JobRecord[]> {
    const keys: string[] = [];
    for await (const key of await this.#kv.keys(`${keyPrefixForUser(userId)}*`)) keys.push(key);
    const records = await Promise.all(keys.map((key) => this.#kv.get(key)));
    return records
      .flatMap((entry) => {
        const parsed = entry?.operation === "PUT" ? JobRecordSchema.safeParse(parseJsonSafely(entry)) : undefined;
        return parsed?.success ? [parsed.data] : [];
      })
      .sort((a, b) => b.created_at - a.created_at);
  }

  async advance(userId: string, jobId: string, update: JobAdvance): Promise<JobAdvanceOutcome> {
    let unchanged: JobRecord | undefined;
    const record = await updateWithRetry(this.#kv, keyForJob(userId, jobId), (current) => {
      const parsed = JobRecordSchema.safeParse(current);
      if (!parsed.success) return undefined;
      const job = parsed.data;
      const status = JobStatusSchema.safeParse(update.status);
      const nextStatus = status.success ? status.data : job.status;
      if (status.success ? !canAdvanceJob(job.status, nextStatus) : job.status !== "running") {
        unchanged = job;
        return undefined;
      }
      return {
        ...job,
        status: nextStatus,
        progress: update.progress ?? (nextStatus === "completed" ? 1 : job.progress),
        progress_message: update.progress_message ?? job.progress_message,
        result: update.result ?? job.result,
        error: update.error ?? job.error,
        updated_at: epochSeconds(),
      } satisfies JobRecord;
    });
    return record ? { record, changed: true } : { record: unchanged, changed: false };
  }
}
