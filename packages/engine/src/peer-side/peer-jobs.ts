/**
 * The job calls of a peer (job-ops.ts on the trusted side): claim, farm claim, progress,
 * finish, a read of its tenant's job, and cancelling a job it held queued.
 */
import { FarmClaimSchema, HeldJobSchema, JobRecordSchema, type FarmTask, type JobRecord } from "@blender-fabric/protocol";
import type { HeldJob, JobOutcome } from "@blender-fabric/bus";
import type { PeerApiClient } from "./peer-api-client.js";

export type ClaimRefusal = { refused: JobRecord | undefined };

/** How a farm task's delivery goes on: run the held attempt, wait and retry, or drop (task over). */
export type FarmClaimResult = { held: HeldJob; attempt: number } | { later: number } | { ended: true };

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

  /** Decides and claims the attempt one delivery of a farm task makes. */
  async claimFarmTask(task: FarmTask, redeliveries: number): Promise<FarmClaimResult> {
    const { ok: _ok, ...answer } = await this.#api.call("farm_claim", { task, redeliveries });
    return FarmClaimSchema.parse(answer);
  }

  async progress(held: HeldJob, fraction: number, message: string): Promise<void> {
    await this.#api.call("progress", { job_id: held.record.job_id, fraction, message });
  }

  /** Ends a held job; false once anyone else has settled it. */
  async finish(held: HeldJob, outcome: JobOutcome): Promise<boolean> {
    const answer = await this.#api.call("finish", { job_id: held.record.job_id, outcome });
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
