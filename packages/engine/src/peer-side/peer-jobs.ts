/**
 * The job calls of a peer (job-ops.ts on the trusted side): claim, progress, finish, a read of
 * its tenant's job, and cancelling a job it held queued. (A farm task's attempt comes claimed
 * with the task: peer-work.ts.)
 */
import { HeldJobSchema, JobRecordSchema, type JobRecord } from "@blender-fabric/protocol";
import type { HeldJob, JobOutcome } from "../jobs/job-store.js";
import type { PeerApiClient } from "./peer-api-client.js";

export type ClaimRefusal = { refused: JobRecord | undefined };

/** What to do with a finished job's work message, sent with the end (see WorkDelivery.settlement). */
export type WorkSettlement = { ack: string; action: "ack" | "nak"; delay_ms?: number };

export class PeerJobs {
  readonly #api: PeerApiClient;

  constructor(api: PeerApiClient) {
    this.#api = api;
  }

  /** The fence: queued → running for this boot, or refused (cancelled, expired, lost, taken). */
  async claim(jobId: string): Promise<HeldJob | ClaimRefusal> {
    const answer = await this.#api.call("claim", { job_id: jobId });
    if (answer.held) return HeldJobSchema.parse(answer.held);
    return { refused: answer.refused ? JobRecordSchema.parse(answer.refused) : undefined };
  }

  async progress(held: HeldJob, fraction: number, message: string): Promise<void> {
    await this.#api.call("progress", { job_id: held.record.job_id, fraction, message });
  }

  /** Ends a held job, then lets its work message go as `settlement` says; false once anyone else has settled it. */
  async finish(held: HeldJob, outcome: JobOutcome, settlement?: WorkSettlement): Promise<boolean> {
    const answer = await this.#api.call("finish", { job_id: held.record.job_id, outcome, ...(settlement ? { ack: settlement } : {}) });
    return answer.ended === true;
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const answer = await this.#api.call("job_get", { job_id: jobId });
    return answer.record ? JobRecordSchema.parse(answer.record) : undefined;
  }

  async cancelQueued(jobId: string, reason: string): Promise<JobRecord | undefined> {
    const answer = await this.#api.call("cancel_queued", { job_id: jobId, reason });
    return answer.record ? JobRecordSchema.parse(answer.record) : undefined;
  }
}
