/**
 * A Blender peer on the bus. Subscribes to its client, group, type and broadcast subjects,
 * queues the work it receives (`command_dispatch`, `job_dispatch`) by priority then arrival,
 * runs it in Blender one job at a time, and reports each job three ways:
 *   - events on `user.<u>.job.<id>` (running, progress, terminal) for waiting gateways;
 *   - the job record in KV `fabric_jobs`, so any replica can answer job_status later;
 *   - `{kind: "job_update"}` (and progress) to the originator's client subject, when the
 *     job came from a registered client.
 */
import { hostname } from "node:os";
import type { NatsConnection, Msg, Subscription } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import {
  EnvelopeSchema,
  WorkPayloadSchema,
  newJobRecord,
  subjectForBroadcast,
  subjectForClient,
  subjectForClientType,
  subjectForGroup,
  type CancelOutcome,
  type Envelope,
  type Priority,
  type WorkPayload,
} from "@blender-fabric/protocol";
import {
  createEnvelope,
  heartbeatClient,
  parseJsonSafely,
  publishEnvelope,
  publishJobEvent,
  registerClient,
  type ArtifactStore,
  type JobStore,
} from "@blender-fabric/bus";
import type { AddonHello, AddonProgress } from "./addon-connection.js";
import { AddonConnectionLost } from "./addon-connection.js";
import type { BlenderPeer } from "./blender-peer.js";
import type { BridgeEnv } from "./env.js";
import type { Logger } from "./logger.js";
import { WorkQueue } from "./work-queue.js";
import { storeLargeResults } from "./result-artifacts.js";

type Work = Exclude<WorkPayload, { message_type: "job_cancel" }>;
type Terminal = {
  status: "completed" | "failed" | "cancelled";
  result?: unknown;
  error?: string;
  /** The addon handler's own time. ms */
  handler_ms?: number;
};

type Running = {
  jobId: string;
  work: Work;
  /** Known once the job record is read: who gets progress and the job_update. */
  originator: string | null;
  /** Settles when the record is read and marked running. */
  bookkeeping: Promise<void>;
  cancelRequested?: boolean;
};

export type BridgeDependencies = {
  env: BridgeEnv;
  nc: NatsConnection;
  clients: KV;
  jobs: JobStore;
  artifacts: ArtifactStore;
  peer: BlenderPeer;
  logger: Logger;
};

const isClientUuid = (uuid: string | null | undefined): uuid is string => !!uuid && !uuid.startsWith("server:");

export class Bridge {
  readonly #deps: BridgeDependencies;
  readonly #queue = new WorkQueue<{ work: Work; envelope: Envelope }>();
  readonly #subscriptions: Subscription[] = [];
  #running: Running | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(deps: BridgeDependencies) {
    this.#deps = deps;
  }

  get #user(): string {
    return this.#deps.env.FABRIC_USER;
  }

  get #uuid(): string {
    return this.#deps.env.FABRIC_CLIENT_UUID;
  }

  /** Waits for Blender, registers the peer, subscribes, and starts heartbeating. */
  async start(): Promise<void> {
    const { peer, env, nc } = this.#deps;
    peer.onProgress((progress) => this.#logFailure(this.#reportProgress(progress), "progress not reported"));
    await this.#register(await peer.start());
    // A restarted Blender has a new pid: register again.
    peer.onConnected = (hello) => this.#logFailure(this.#register(hello), "registration failed");
    const subjects = [
      subjectForClient(this.#user, this.#uuid),
      subjectForClientType(this.#user, env.FABRIC_CLIENT_TYPE),
      subjectForBroadcast(this.#user),
      ...(env.FABRIC_GROUP_ID ? [subjectForGroup(this.#user, env.FABRIC_GROUP_ID)] : []),
    ];
    for (const subject of subjects) {
      const subscription = nc.subscribe(subject, {
        callback: (error, message) => {
          if (!error) this.#receive(message);
        },
      });
      this.#subscriptions.push(subscription);
    }
    await nc.flush();
    this.#heartbeat = setInterval(() => void this.#beat(), env.FABRIC_HEARTBEAT_SECONDS * 1000);
  }

  async #register(hello: AddonHello): Promise<void> {
    const { env, clients, logger } = this.#deps;
    await registerClient(clients, this.#user, {
      uuid: this.#uuid,
      client_type: env.FABRIC_CLIENT_TYPE,
      label: env.FABRIC_LABEL ?? this.#uuid,
      is_persistent: true,
      capabilities: env.FABRIC_CAPABILITIES,
      group_id: env.FABRIC_GROUP_ID ?? null,
      pid: hello.pid,
      hostname: hostname(),
      blend_file: hello.blend_file ?? "",
      blender_version: hello.blender_version,
      health: this.#health(),
    });
    logger.info({ uuid: this.#uuid, user: this.#user, blender_pid: hello.pid }, "bridge ready");
  }

  #health() {
    return { queue_depth: this.#queue.size, active_jobs: this.#running ? 1 : 0 };
  }

  async #beat(): Promise<void> {
    const { clients, peer, logger } = this.#deps;
    try {
      const alive = await heartbeatClient(clients, this.#user, this.#uuid, { health: this.#health() });
      // Evicted or unregistered meanwhile: join again.
      if (!alive && peer.hello) await this.#register(peer.hello);
    } catch (error) {
      logger.warn({ err: error }, "heartbeat failed");
    }
  }

  #receive(message: Msg): void {
    const envelope = EnvelopeSchema.safeParse(parseJsonSafely(message));
    if (!envelope.success || envelope.data.from_uuid === this.#uuid) return;
    const payload = WorkPayloadSchema.safeParse(envelope.data.payload);
    if (!payload.success) return; // announcements, proposals: not work for Blender
    if (payload.data.message_type === "job_cancel") {
      this.#cancel(payload.data.job_id)
        .catch((error: unknown) => {
          this.#deps.logger.warn({ err: error }, "cancel failed");
          return "not_found" as const;
        })
        .then((outcome) => message.respond(JSON.stringify({ outcome })));
      return;
    }
    this.#queue.push({
      jobId: payload.data.job_id,
      priority: envelope.data.priority,
      item: { work: payload.data, envelope: envelope.data },
    });
    this.#schedulePump();
  }

  /** Never leaves a rejection unhandled: a crashed bridge would lose its whole queue. */
  #logFailure(promise: Promise<unknown>, what: string): void {
    promise.catch((error: unknown) => this.#deps.logger.error({ err: error }, what));
  }

  #schedulePump(): void {
    this.#logFailure(this.#pump(), "running queued work failed");
  }

  /** Runs queued work one job at a time. */
  async #pump(): Promise<void> {
    if (this.#running) return;
    const next = this.#queue.shift();
    if (!next) return;
    const { work, envelope } = next.item;
    const running: Running = { jobId: work.job_id, work, originator: null, bookkeeping: Promise.resolve() };
    this.#running = running;
    try {
      await this.#run(running, envelope);
    } finally {
      this.#running = undefined;
      this.#schedulePump();
    }
  }

  /** Work sent without a job record (a plain job_dispatch) gets one, so job_status works. */
  async #ensureJobRecord(work: Work, envelope: Envelope) {
    const { jobs } = this.#deps;
    const existing = await jobs.get(this.#user, work.job_id);
    if (existing) return existing;
    const record = newJobRecord({
      job_id: work.job_id,
      bus_id: this.#user,
      originator_uuid: isClientUuid(envelope.from_uuid) ? envelope.from_uuid : null,
      target_uuid: this.#uuid,
      kind: work.message_type === "command_dispatch" ? "command" : "script",
      command: work.message_type === "command_dispatch" ? work.command : null,
    });
    await jobs.create(record);
    return record;
  }

  async #run(running: Running, envelope: Envelope): Promise<void> {
    const { jobs, peer, nc, artifacts } = this.#deps;
    const { jobId, work } = running;
    const label = work.message_type === "command_dispatch" ? work.command : "script";
    publishJobEvent(nc, this.#user, { job_id: jobId, status: "running" });
    // The record's bookkeeping runs alongside the command instead of before it; it is
    // awaited before the terminal update, and status only ever moves forward anyway.
    running.bookkeeping = this.#ensureJobRecord(work, envelope)
      .then(async (record) => {
        running.originator = record.originator_uuid;
        await jobs.advance(this.#user, jobId, { status: "running" });
      })
      .catch((error: unknown) => this.#deps.logger.warn({ err: error, jobId }, "job record not updated"));

    let terminal: Terminal;
    try {
      const reply = await peer.request(
        work.message_type === "command_dispatch"
          ? { type: "command", command: work.command, params: work.params, job_id: jobId }
          : { type: "script", script: work.script, job_id: jobId },
      );
      terminal = reply.ok
        ? { status: "completed", result: reply.result, handler_ms: reply.duration_ms }
        : {
            status: "failed",
            error: reply.traceback ? `${reply.error}\n${reply.traceback}` : (reply.error ?? "failed"),
            handler_ms: reply.duration_ms,
          };
    } catch (error) {
      const why = error instanceof AddonConnectionLost ? error.message : String(error);
      terminal = {
        status: "failed",
        error: `Blender went away while running ${label} (job ${jobId}): ${why}. The bridge is restarting it; send the job again.`,
      };
    }
    if (terminal.status === "completed") {
      const params = work.message_type === "command_dispatch" ? work.params : {};
      try {
        terminal.result = await storeLargeResults(artifacts, this.#user, jobId, label, params, terminal.result);
      } catch (error) {
        terminal = { status: "failed", error: `${label} finished, but its result could not be stored: ${String(error)}` };
      }
    }
    await running.bookkeeping;
    // A script stopped by its cancellation flag ends as cancelled, not failed.
    const cancelled = running.cancelRequested && terminal.status === "failed";
    await this.#finish(running, cancelled ? { status: "cancelled", error: "cancelled while running" } : terminal);
  }

  /** Records and announces the end of a job; the announcement goes out even if KV is down. */
  async #finish(running: Pick<Running, "jobId" | "originator">, terminal: Terminal): Promise<void> {
    const { jobs, nc, logger } = this.#deps;
    await jobs
      .advance(this.#user, running.jobId, terminal)
      .catch((error: unknown) => logger.error({ err: error, jobId: running.jobId }, "terminal status not recorded"));
    publishJobEvent(nc, this.#user, { job_id: running.jobId, ...terminal });
    if (isClientUuid(running.originator)) {
      this.#tellOriginator(running.originator, "notice", {
        kind: "job_update",
        job_id: running.jobId,
        status: terminal.status,
        result: terminal.result === undefined ? "" : JSON.stringify(terminal.result),
        error: terminal.error ?? "",
      });
    }
  }

  #tellOriginator(originator: string, priority: Priority, payload: Record<string, unknown>): void {
    publishEnvelope(
      this.#deps.nc,
      createEnvelope({
        userId: this.#user,
        fromUuid: this.#uuid,
        routing: { type: "direct", target_uuid: originator },
        priority,
        payload,
        jobId: String(payload.job_id),
      }),
    );
  }

  async #reportProgress(progress: AddonProgress): Promise<void> {
    const running = this.#running;
    if (!running || running.jobId !== progress.job_id) return;
    await running.bookkeeping; // the originator is known, and "running" is recorded, first
    const fraction = Math.min(1, Math.max(0, progress.fraction));
    publishJobEvent(this.#deps.nc, this.#user, {
      job_id: running.jobId,
      status: "progress",
      progress: fraction,
      progress_message: progress.message,
    });
    if (isClientUuid(running.originator)) {
      this.#tellOriginator(running.originator, "info", {
        kind: "progress",
        job_id: running.jobId,
        fraction,
        percent: Math.round(fraction * 100),
        message: progress.message,
      });
    }
    await this.#deps.jobs
      .advance(this.#user, running.jobId, { status: "progress", progress: fraction, progress_message: progress.message })
      .catch((error: unknown) => this.#deps.logger.warn({ err: error }, "progress not recorded"));
  }

  /** Queued jobs are dropped; a running script gets its cancellation flag. */
  async #cancel(jobId: string): Promise<CancelOutcome> {
    const record = await this.#deps.jobs.get(this.#user, jobId);
    if (this.#queue.remove(jobId)) {
      await this.#finish(
        { jobId, originator: record?.originator_uuid ?? null },
        { status: "cancelled", error: "cancelled while queued" },
      );
      return "removed_from_queue";
    }
    const running = this.#running;
    if (running?.jobId !== jobId) return "not_found";
    running.cancelRequested = true;
    const reply = await this.#deps.peer.requestNow({ type: "cancel", job_id: jobId }).catch(() => undefined);
    const flagged = reply?.ok && (reply.result as { cancelled?: boolean } | undefined)?.cancelled;
    if (!flagged) running.cancelRequested = false;
    return flagged ? "cancel_requested" : "not_found";
  }

  stop(): void {
    clearInterval(this.#heartbeat);
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
  }
}
