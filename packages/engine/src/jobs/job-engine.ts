/**
 * Starting jobs, for every tool that starts one: the request-id ledger (one job per request
 * id), the work quota, which peer takes the work, and record-then-queue
 * (record-then-queue.ts). The gateway's tools call it; the peer API (`../peer-api/`) is the
 * engine's other face, through which peers claim, report and finish the jobs started here,
 * and the reaper (job-reaper.ts) ends the ones nobody will.
 *
 * A `project:<id>` target is not looked up: its work waits on the project's lane for
 * whichever peer serves the project (the pool starts one when none is live), and the record
 * names the project until a peer claims the job and writes its own uuid there.
 */
import { randomUUID } from "node:crypto";
import {
  DEFAULT_SUBMIT_DEADLINE_SECONDS,
  epochSeconds,
  farmTaskJobId,
  newJobRecord,
  projectOfTarget,
  requestFingerprint,
  type Envelope,
  type FarmSummary,
  type JobKind,
  type JobRecord,
} from "@blender-fabric/protocol";
import { createEnvelope, type ArtifactStore, type ClientRegistry, type WorkStream } from "@blender-fabric/bus";
import { farmTaskEnvelope, keepFarmSpec, type FarmSpec } from "./farm-spec.js";
import type { JobStore } from "./job-store.js";
import type { JobReaper } from "./job-reaper.js";
import type { RequestLedger } from "./request-ledger.js";
import { isRefusal, pickTarget, type TargetRefusal } from "./pick-target.js";
import { queueRecordedWork, recordJob } from "./record-then-queue.js";

export const newJobId = () => `j-${randomUUID().replaceAll("-", "").slice(0, 12)}`;

export type JobEngineStores = {
  jobs: JobStore;
  requests: RequestLedger;
  registry: ClientRegistry;
  work: WorkStream;
  /** Where a farm job's spec is kept (farm-spec.ts). */
  artifacts: ArtifactStore;
  /** Counts each user's unfinished jobs (the work quota). */
  reaper: JobReaper;
};

export type JobEngineLimits = {
  /** Queued and running jobs (farm tasks included) one user may have. */
  maxUnfinishedJobs: number;
};

/** A command for one peer: a dispatch tool's call or `blender_submit`. */
export type CommandRequest = {
  /** The tool taking the request, remembered with its request id. */
  tool: string;
  command: string;
  params: Record<string, unknown>;
  /** `target_uuid` as given: a uuid, `latest`, `pid:<n>`, `project:<id>`, or null. */
  selector: string | null;
  requestId: string | null;
  /** Work not started by then never starts. Seconds since the epoch. */
  deadline: number;
};

/** The job a request runs as; `repeat` when an earlier request with its request_id made it. */
export type JobTicket = { jobId: string; repeat: boolean };

export type QueuedJob = { jobId: string; targetUuid: string; record: JobRecord };

/** A request id already used for other work: the caller reused a key by mistake. */
export type RequestIdConflict = { status: "invalid_params"; field: "request_id"; error: string };

export type WorkQuotaExceeded = { status: "quota_exceeded"; error: string };

/** A farm job's tasks as queued: one per chunk of items, each running `script` on its chunk. */
export type FarmTasks = { script: string; chunks: unknown[][]; taskTimeoutSeconds: number };

export class JobEngine {
  readonly #stores: JobEngineStores;
  readonly #limits: JobEngineLimits;

  constructor(stores: JobEngineStores, limits: JobEngineLimits) {
    this.#stores = stores;
    this.#limits = limits;
  }

  /** A new job id, or, with a request id, the job that request already has. */
  async ticket(userId: string, request: Pick<CommandRequest, "tool" | "requestId" | "command" | "params">): Promise<JobTicket | RequestIdConflict> {
    const jobId = newJobId();
    if (!request.requestId) return { jobId, repeat: false };
    // blender_submit and the dispatch tool of the same command with the same params are one request.
    const fingerprint = requestFingerprint({ command: request.command, params: request.params });
    const claim = await this.#stores.requests.claim(userId, request.requestId, { job_id: jobId, tool: request.tool, fingerprint });
    if (claim.record.fingerprint !== fingerprint) {
      return {
        status: "invalid_params",
        field: "request_id",
        error: `request_id: already used by ${claim.record.tool} for other work (job ${claim.record.job_id}); choose a new one`,
      };
    }
    return { jobId: claim.record.job_id, repeat: !claim.first };
  }

  /**
   * Records a command's job and queues its work. A repeat finds the job instead; if that job
   * has not started, its work is queued again, because the gateway that took the first
   * request may have died before queuing it (the stream drops the copy if it had not).
   */
  async queueCommand(userId: string, ticket: JobTicket, request: CommandRequest): Promise<QueuedJob | TargetRefusal> {
    const { jobs, registry, work } = this.#stores;
    let entry = ticket.repeat ? await jobs.entry(userId, ticket.jobId) : undefined;
    if (entry && entry.record.status !== "queued") {
      return { jobId: ticket.jobId, targetUuid: entry.record.target_uuid ?? "", record: entry.record };
    }
    if (!entry) {
      const over = this.refuseOverWorkQuota(userId, 1);
      if (over) return over;
      const project = projectOfTarget(request.selector);
      if (project === "") return { status: "unknown_target", target_uuid: request.selector!, error: "target_uuid: name the project, as in project:<id>" };
      const target = project === undefined ? await pickTarget(registry, userId, request.selector) : { uuid: request.selector! };
      if (isRefusal(target)) return target;
      const record = newJobRecord({
        job_id: ticket.jobId,
        bus_id: userId,
        originator_uuid: null,
        target_uuid: target.uuid,
        kind: "command",
        command: request.command,
        deadline: request.deadline,
        request_id: request.requestId,
      });
      entry = await recordJob(jobs, record);
    }
    const targetUuid = entry.record.target_uuid!;
    const envelope = createEnvelope({
      userId,
      fromUuid: `server:${userId}`,
      routing: { type: "direct", target_uuid: targetUuid },
      priority: "info",
      jobId: ticket.jobId,
      payload: { message_type: "command_dispatch", job_id: ticket.jobId, command: request.command, params: request.params },
    });
    const project = projectOfTarget(targetUuid);
    await queueRecordedWork(work, entry, project === undefined ? { peer: targetUuid } : { project }, envelope);
    return { jobId: ticket.jobId, targetUuid, record: entry.record };
  }

  /**
   * The work quota: a user's queued and running jobs (farm tasks included) stay under the
   * limit, so one tenant cannot fill the shared work stream.
   */
  refuseOverWorkQuota(userId: string, adding: number): WorkQuotaExceeded | undefined {
    const limit = this.#limits.maxUnfinishedJobs;
    const unfinished = this.#stores.reaper.unfinishedCount(userId);
    if (unfinished + adding <= limit) return undefined;
    return { status: "quota_exceeded", error: `FABRIC_MAX_UNFINISHED_JOBS: ${unfinished} of your jobs are queued or running, and at most ${limit} may be; wait for some to end or cancel them` };
  }

  /** The summary of a farm job an earlier request with the same request id recorded. */
  async farmSummary(userId: string, farmJobId: string): Promise<unknown> {
    return (await this.#stores.jobs.get(userId, farmJobId))?.result;
  }

  /**
   * Records a farm job (unless a repeat of its request did), keeps its spec (farm-spec.ts),
   * and publishes its tasks. A task's attempts are recorded by the peers that take it
   * (farm-attempts.ts), the first one too, so submitting 10,000 tasks writes one record and
   * 10,000 messages. Each message's id is the task and the farm record's revision: a repeat of
   * the request (its first gateway may have died half-way) publishes what is missing and the
   * stream drops the rest. Its lanes' consumers come first: a group at zero peers is scaled up
   * by their pending counts.
   */
  async queueFarm(userId: string, farmJobId: string, command: string, summary: FarmSummary, tasks: FarmTasks): Promise<void> {
    const { jobs, work, artifacts } = this.#stores;
    const spec: FarmSpec = { script: tasks.script, chunks: tasks.chunks, task_timeout_seconds: tasks.taskTimeoutSeconds };
    const farm = newJobRecord({ job_id: farmJobId, bus_id: userId, originator_uuid: null, target_uuid: null, kind: "farm", command });
    const entry = await recordJob(jobs, { ...farm, result: summary });
    // A repeat after the job ended, or after a control republished its tasks, publishes nothing.
    if (entry.record.status !== "queued") return;
    await Promise.all([keepFarmSpec(artifacts, userId, farmJobId, spec), work.ensureFarmLanes(userId, summary.group_id)]);
    await Promise.all(
      tasks.chunks.map((_, index) =>
        work.publishFarmTask(userId, summary.group_id, summary.priority, farmTaskEnvelope(userId, farmJobId, summary, spec, index), `${farmTaskJobId(farmJobId, index)}@${entry.revision}`),
      ),
    );
  }

  /**
   * The record of a bus message sent with a `from_uuid`, so a later `blender_job_update`
   * finds its originator. The id of a finished job may be reused; an unfinished job's stays.
   */
  async recordMessage(record: JobRecord): Promise<void> {
    await recordJob(this.#stores.jobs, record, { replace: true });
  }

  /**
   * Work sent as a bus message (the seed's `command_dispatch` / `job_dispatch`): a bridge
   * never runs what it reads off a core subject, so it becomes work here, for the first live
   * Blender peer among the message's receivers, through the same stream and fence as every
   * dispatch. Its record is the sender's (`recordMessage`) or a new one.
   */
  async queueMessageWork(userId: string, envelope: Envelope, receivers: string[], kind: { kind: JobKind; command: string | null }): Promise<void> {
    const { registry, jobs, work } = this.#stores;
    const peer = receivers.map((uuid) => registry.cached(userId, uuid)).find((record) => record?.incarnation && !registry.isStale(record));
    if (!peer) return; // no Blender among the receivers: the job expires at its deadline
    const record = newJobRecord({
      job_id: envelope.job_id,
      bus_id: userId,
      originator_uuid: null,
      target_uuid: peer.uuid,
      ...kind,
      deadline: epochSeconds() + DEFAULT_SUBMIT_DEADLINE_SECONDS,
    });
    const entry = (await jobs.entry(userId, envelope.job_id)) ?? (await recordJob(jobs, record, { replace: true }));
    await queueRecordedWork(work, entry, { peer: peer.uuid }, { ...envelope, target_uuid: peer.uuid });
  }
}
