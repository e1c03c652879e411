/**
 * A Blender peer on the bus. Its work comes from its durable consumer on `FABRIC_WORK`;
 * work sent as a bus message (`blender_send_message` with a `job_dispatch`) is first stored
 * there too, so everything this peer runs survives a bridge crash. It queues work by
 * priority then arrival and runs it in Blender one job at a time:
 *
 *   delivery ─▶ queue ─▶ claim (queued → running, compare-and-set) ─▶ Blender ─▶ finish ─▶ ack
 *
 * A peer of a group also takes the group's farm tasks, and a farm worker (a spawn-mode bridge)
 * those of the user's farm pool, one at a time and only when it has nothing else to do. A
 * peer of a project (FABRIC_PROJECT_ID) also takes the work sent to `project:<id>`.
 *
 * With FABRIC_IDLE_SECONDS, a peer that had nothing to do for that long says so (`onIdle`);
 * main.ts then drains it, saves a project's scene and lets it leave the bus (scale to zero).
 *
 * The claim is the fence: work that was cancelled, expired or settled lost meanwhile is
 * acknowledged and dropped, never run. Each boot has its own incarnation id, registered in
 * ClientInfo and written on every job it claims, so the jobs of a dead boot can be settled
 * `lost` (job-reaper.ts) while the work it merely held runs on the next boot.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { NatsConnection, Msg, Subscription } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import {
  DEFAULT_SUBMIT_DEADLINE_SECONDS,
  EnvelopeSchema,
  FarmTaskSchema,
  SNAPSHOT_COMMAND,
  WorkPayloadSchema,
  consumerForPeer,
  consumerForProject,
  farmTaskScript,
  isClientUuid,
  isTerminalJobStatus,
  epochSeconds,
  newJobRecord,
  subjectForBroadcast,
  subjectForClient,
  subjectForClientType,
  subjectForGroup,
  type CancelOutcome,
  type Envelope,
  type FarmTask,
  type WorkPayload,
} from "@blender-fabric/protocol";
import {
  JobExistsError,
  heartbeatClient,
  parseJsonSafely,
  registerClient,
  unregisterClient,
  type ArtifactStore,
  type BlendStore,
  type HeldJob,
  type JobOutcome,
  type JobStore,
  type PeerWorkSubscription,
  type WorkDelivery,
  type WorkStream,
} from "@blender-fabric/bus";
import type { AddonHello, AddonProgress } from "./addon-connection.js";
import { AddonConnectionLost } from "./addon-connection.js";
import type { BlenderPeer } from "./blender-peer.js";
import type { BridgeEnv } from "./env.js";
import type { Logger } from "./logger.js";
import { WorkQueue } from "./work-queue.js";
import { storeLargeResults } from "./result-artifacts.js";
import { decideAttempt } from "./farm-attempts.js";
import { OutputFolder } from "./output-folder.js";
import type { BlendCache } from "./blend-cache.js";
import { saveSceneSnapshot } from "./scene-snapshot.js";

type Work = Exclude<WorkPayload, { message_type: "job_cancel" }>;
/** `farmTask`: a task of the group's farm; which attempt it makes is decided when it runs. */
type QueuedItem = { work: Work; delivery: WorkDelivery; farmTask?: FarmTask };

type Running = {
  jobId: string;
  /** Set once the claim succeeded. */
  held?: HeldJob;
  cancelRequested?: boolean;
  /** When the job last reported progress (or started). ms since the epoch */
  lastProgressAt?: number;
  /** Set when a farm attempt was stopped for reporting no progress. */
  timedOut?: boolean;
  /** A farm attempt's output folder: stored as files appear in it. */
  outputs?: OutputFolder;
};

export type BridgeDependencies = {
  env: BridgeEnv;
  nc: NatsConnection;
  clients: KV;
  jobs: JobStore;
  work: WorkStream;
  artifacts: ArtifactStore;
  blends: BlendStore;
  blendCache: BlendCache;
  peer: BlenderPeer;
  logger: Logger;
};

/** Pause before writing a job's end again while KV is unavailable. ms */
const FINISH_RETRY_MS = 1_000;
/** Pause before work that could not be claimed (KV unavailable) comes again. ms */
const CLAIM_RETRY_MS = 1_000;
/** How often a farm attempt's progress watchdog looks. ms */
const WATCHDOG_INTERVAL_MS = 250;
/** Pause before a farm task whose attempt runs on another peer is looked at again. ms */
const HELD_ELSEWHERE_RETRY_MS = 5_000;
/** How often an idle timeout (FABRIC_IDLE_SECONDS) looks whether the peer is still idle. ms */
const IDLE_CHECK_MS = 500;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A new id for this boot of the bridge. */
const newIncarnation = () => `inc-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;

export class Bridge {
  readonly #deps: BridgeDependencies;
  readonly #queue = new WorkQueue<QueuedItem>();
  readonly #subscriptions: Subscription[] = [];
  readonly incarnation = newIncarnation();
  readonly #workSubscriptions: PeerWorkSubscription[] = [];
  /** Called once this peer has nothing queued or running (it then takes a farm task). */
  #idleWaiters: (() => void)[] = [];
  #running: Running | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #idleCheck: NodeJS.Timeout | undefined;
  /** When the peer last had work (or started). ms since the epoch */
  #busyAt = Date.now();
  /** No longer taking new work: it is leaving (idle, or told to stop). */
  #draining = false;
  #stopped = false;
  /** How many jobs this boot has run (a project's peer saves its scene when it has changed). */
  jobsRun = 0;
  /** Called once when the peer has had nothing to do for FABRIC_IDLE_SECONDS. */
  onIdle: () => void = () => {};
  /** The Blender registered on the bus now; undefined while there is none (its /readyz). */
  #registered: { uuid: string; blender_pid: number; incarnation: string } | undefined;

  constructor(deps: BridgeDependencies) {
    this.#deps = deps;
  }

  get #user(): string {
    return this.#deps.env.FABRIC_USER;
  }

  get #uuid(): string {
    return this.#deps.env.FABRIC_CLIENT_UUID;
  }

  /** Waits for Blender, registers this boot, subscribes, takes work and starts heartbeating. */
  async start(): Promise<void> {
    const { peer, env, nc, work } = this.#deps;
    peer.onProgress((progress) => this.#logFailure(this.#reportProgress(progress), "progress not reported"));
    await this.#register(await peer.start());
    // A restarted Blender has a new pid: register again (same boot of the bridge).
    peer.onConnected = (hello) => this.#logFailure(this.#register(hello), "registration failed");
    peer.onLost = () => {
      this.#registered = undefined;
    };
    // A project's peer hears only what names it: work broadcast to every Blender of the
    // user, or to its client type, must not change a project's scene.
    const subjects = [
      subjectForClient(this.#user, this.#uuid),
      ...(env.FABRIC_PROJECT_ID ? [] : [subjectForClientType(this.#user, env.FABRIC_CLIENT_TYPE), subjectForBroadcast(this.#user)]),
      ...(env.FABRIC_GROUP_ID ? [subjectForGroup(this.#user, env.FABRIC_GROUP_ID)] : []),
    ];
    for (const subject of subjects) {
      const subscription = nc.subscribe(subject, {
        callback: (error, message) => {
          if (!error) this.#receiveMessage(message);
        },
      });
      this.#subscriptions.push(subscription);
    }
    await nc.flush();
    this.#workSubscriptions.push(await work.consumePeer(this.#user, this.#uuid, (delivery) => this.#receiveWork(delivery)));
    if (env.FABRIC_PROJECT_ID) {
      this.#workSubscriptions.push(await work.consumeProject(this.#user, env.FABRIC_PROJECT_ID, (delivery) => this.#receiveWork(delivery)));
    }
    if (env.FABRIC_GROUP_ID || env.FABRIC_FARM_WORKER) {
      const sources = { groupId: env.FABRIC_GROUP_ID ?? null, userPool: env.FABRIC_FARM_WORKER };
      const farm = await work.consumeFarm(this.#user, sources, () => this.#whenIdle(), (delivery) => this.#receiveFarmTask(delivery));
      this.#workSubscriptions.push(farm);
    }
    this.#heartbeat = setInterval(() => void this.#beat(), env.FABRIC_HEARTBEAT_SECONDS * 1000);
    this.#busyAt = Date.now();
    if (env.FABRIC_IDLE_SECONDS > 0) this.#idleCheck = setInterval(() => this.#checkIdle(), IDLE_CHECK_MS);
  }

  #checkIdle(): void {
    if (this.#running || this.#queue.size > 0) this.#busyAt = Date.now();
    if (this.#draining || Date.now() - this.#busyAt < this.#deps.env.FABRIC_IDLE_SECONDS * 1000) return;
    clearInterval(this.#idleCheck);
    this.onIdle();
  }

  /**
   * Stops taking new work and resolves once what was taken has ended, or after `timeoutMs`
   * (then what still runs is settled `lost` by the reapers once this boot is gone).
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    clearInterval(this.#idleCheck);
    for (const subscription of this.#workSubscriptions.splice(0)) subscription.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#whenIdle(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Leaves the bus for good: the registry forgets this peer (it is not live, so the pool may
   * start another), and its own consumer goes, so whatever the server sent to its last pull
   * is free at once. Call after drain().
   */
  async leave(): Promise<void> {
    const { clients, work } = this.#deps;
    this.stop();
    await unregisterClient(clients, this.#user, this.#uuid);
    await work.removeConsumer(consumerForPeer(this.#user, this.#uuid));
  }

  /**
   * Removes the project's consumer, so whatever the server sent to its last pull goes to the
   * project's next peer at once. Only while this peer still holds the project: the consumer
   * is the next peer's once it has the lease. Call after drain().
   */
  async dropProjectConsumer(): Promise<void> {
    const { env, work } = this.#deps;
    if (env.FABRIC_PROJECT_ID) await work.removeConsumer(consumerForProject(this.#user, env.FABRIC_PROJECT_ID));
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
      farm_worker: env.FABRIC_FARM_WORKER,
      ...(env.FABRIC_PROJECT_ID ? { project_id: env.FABRIC_PROJECT_ID } : {}),
      pid: hello.pid,
      hostname: hostname(),
      blend_file: hello.blend_file ?? "",
      blender_version: hello.blender_version,
      health: this.#health(),
      incarnation: this.incarnation,
    });
    this.#registered = { uuid: this.#uuid, blender_pid: hello.pid ?? 0, incarnation: this.incarnation };
    logger.info({ uuid: this.#uuid, user: this.#user, blender_pid: hello.pid, incarnation: this.incarnation, uptime_ms: Math.round(process.uptime() * 1000) }, "bridge ready");
  }

  /** Whether this peer is on the bus with a live Blender, and which (its /readyz). */
  get registered() {
    return this.#registered;
  }

  #health() {
    return { queue_depth: this.#queue.size, active_jobs: this.#running ? 1 : 0 };
  }

  async #beat(): Promise<void> {
    const { clients, peer, logger } = this.#deps;
    try {
      const alive = await heartbeatClient(clients, this.#user, this.#uuid, { health: this.#health() });
      // Evicted or unregistered meanwhile: join again.
      if (!alive && peer.hello && !this.#stopped) await this.#register(peer.hello);
    } catch (error) {
      logger.warn({ err: error }, "heartbeat failed");
    }
  }

  /** Bus messages: cancel requests are answered; work is stored durably, then taken from there. */
  #receiveMessage(message: Msg): void {
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
    this.#logFailure(this.#adopt(envelope.data, payload.data), "work from a bus message not queued");
  }

  /**
   * Work that came as a bus message gets a job record (unless its sender made one) and goes
   * into this peer's work subject. Several group members adopting the same job store it
   * once: the copies carry the same job id and record revision, which the stream dedupes.
   */
  async #adopt(envelope: Envelope, work: Work): Promise<void> {
    const { jobs, work: stream } = this.#deps;
    let entry = await jobs.entry(this.#user, work.job_id);
    if (!entry) {
      const record = newJobRecord({
        job_id: work.job_id,
        bus_id: this.#user,
        originator_uuid: isClientUuid(envelope.from_uuid) ? envelope.from_uuid : null,
        target_uuid: this.#uuid,
        kind: work.message_type === "command_dispatch" ? "command" : "script",
        command: work.message_type === "command_dispatch" ? work.command : null,
        deadline: epochSeconds() + DEFAULT_SUBMIT_DEADLINE_SECONDS,
      });
      try {
        entry = { record, revision: await jobs.create(record) };
      } catch (error) {
        if (!(error instanceof JobExistsError)) throw error;
        entry = await jobs.entry(this.#user, work.job_id);
      }
    }
    if (entry?.record.status !== "queued") return;
    await stream.publishToPeer(this.#user, this.#uuid, envelope, `${work.job_id}@${entry.revision}`);
  }

  #receiveWork(delivery: WorkDelivery): void {
    const envelope = EnvelopeSchema.safeParse(delivery.envelope);
    const payload = envelope.success ? WorkPayloadSchema.safeParse(envelope.data.payload) : undefined;
    if (!envelope.success || !payload?.success || payload.data.message_type === "job_cancel") {
      this.#deps.logger.warn("malformed work dropped");
      delivery.done();
      return;
    }
    const work = payload.data;
    if (this.#queue.has(work.job_id) || this.#running?.jobId === work.job_id) {
      delivery.forget(); // the server sent again what this boot already holds
      return;
    }
    this.#queue.push({ jobId: work.job_id, priority: envelope.data.priority, item: { work, delivery } });
    this.#schedulePump();
  }

  /** A farm task of the group: queued below every interactive priority, run like a script. */
  #receiveFarmTask(delivery: WorkDelivery): void {
    const envelope = EnvelopeSchema.safeParse(delivery.envelope);
    const task = envelope.success ? FarmTaskSchema.safeParse(envelope.data.payload) : undefined;
    if (!envelope.success || !task?.success) {
      this.#deps.logger.warn("malformed farm task dropped");
      delivery.done();
      return;
    }
    if (this.#queue.has(task.data.job_id) || this.#running?.jobId === task.data.job_id) {
      delivery.forget(); // the server sent again what this boot already holds
      return;
    }
    // The script is built when an attempt runs: each attempt gets its own output folder.
    const work: Work = { message_type: "job_dispatch", job_id: task.data.job_id, script: task.data.script };
    this.#queue.push({ jobId: work.job_id, priority: envelope.data.priority, item: { work, delivery, farmTask: task.data } });
    this.#schedulePump();
  }

  /** Resolves once nothing is queued or running here. */
  #whenIdle(): Promise<void> {
    if (this.#stopped || (!this.#running && this.#queue.size === 0)) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
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
    if (this.#running || this.#stopped) return;
    const next = this.#queue.shift();
    if (!next) return;
    this.#running = { jobId: next.jobId };
    try {
      await this.#take(this.#running, next.item);
    } finally {
      this.#running = undefined;
      this.#busyAt = Date.now();
      this.jobsRun += 1;
      if (this.#queue.size === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
      this.#schedulePump();
    }
  }

  async #take(running: Running, item: QueuedItem): Promise<void> {
    const { jobs, logger } = this.#deps;
    const { delivery, farmTask } = item;
    let jobId = item.work.job_id;
    let claim: Awaited<ReturnType<JobStore["claim"]>>;
    let attempt = 1;
    try {
      if (farmTask) {
        const taker = { peerUuid: this.#uuid, capabilities: this.#deps.env.FABRIC_CAPABILITIES };
        const decision = await decideAttempt(jobs, this.#user, taker, farmTask, delivery.redeliveries, HELD_ELSEWHERE_RETRY_MS);
        if ("ended" in decision) return delivery.done();
        if ("later" in decision) return delivery.retryLater(decision.later);
        jobId = decision.run;
        attempt = decision.attempt;
      }
      claim = await jobs.claim(this.#user, jobId, { incarnation: this.incarnation, peerUuid: this.#uuid });
    } catch (error) {
      logger.warn({ err: error, jobId }, "could not claim work; it comes again");
      delivery.retryLater(CLAIM_RETRY_MS);
      return;
    }
    if ("refused" in claim) {
      logger.info({ jobId, status: claim.refused?.status }, "work not started: the job is no longer queued");
      // A farm task whose attempt another peer claimed first is that peer's now; its message
      // copy goes back, and the next delivery sees the attempt running or ended.
      if (farmTask) return delivery.retryLater(CLAIM_RETRY_MS);
      delivery.done();
      return;
    }
    running.held = claim;
    let outcome = farmTask ? await this.#runFarmAttempt(running, farmTask, claim) : await this.#execute(item.work);
    // A script stopped by its cancellation flag ends as cancelled, not failed.
    if (running.cancelRequested && outcome.status === "failed") outcome = { status: "cancelled", error: "cancelled while running" };
    await this.#finish(claim, outcome);
    // A failed farm attempt with attempts left hands its task back for the next attempt.
    if (farmTask && outcome.status === "failed" && attempt < farmTask.max_attempts) delivery.retryLater(0);
    else delivery.done();
  }

  /**
   * One claimed attempt at a farm task: open its scene (cached by hash), run its script with a
   * fresh output folder, store the folder's files as they appear, and say how it ended.
   */
  async #runFarmAttempt(running: Running, task: FarmTask, claim: HeldJob): Promise<JobOutcome> {
    // Read after the claim: a farm job cancelled before it never sees this attempt run.
    if (!(await this.#farmGoesOn(task))) return { status: "cancelled", error: "its farm job ended before this attempt started" };
    let blend: { path: string; source: string } | undefined;
    try {
      blend = task.blend_sha256 ? await this.#deps.blendCache.ensure(this.#user, task.blend_sha256) : undefined;
    } catch (error) {
      return { status: "failed", error: `could not fetch the scene ${task.blend_sha256}: ${String(error)}` };
    }
    const outputs = await OutputFolder.create(this.#deps.artifacts, this.#user, task.farm_job_id);
    running.outputs = outputs;
    try {
      const script = farmTaskScript(task, outputs.path, blend?.path ?? null);
      const work: Work = { message_type: "job_dispatch", job_id: claim.record.job_id, script };
      const watchdog = this.#stopWhenSilent(running, task.task_timeout_seconds);
      let outcome = await this.#execute(work).finally(() => clearInterval(watchdog));
      outcome = await this.#collectOutputs(outputs, outcome, blend?.source);
      if (running.timedOut && outcome.status === "failed") {
        outcome = { status: "failed", error: `timed out: no progress for ${task.task_timeout_seconds} s, so Blender was restarted` };
      }
      return outcome;
    } finally {
      running.outputs = undefined;
      await outputs.remove();
    }
  }

  /**
   * A farm attempt that reports no progress for `timeoutSeconds` is stuck (or lost in a loop):
   * Blender is restarted, the attempt fails, and its task is tried again elsewhere.
   */
  #stopWhenSilent(running: Running, timeoutSeconds: number): NodeJS.Timeout {
    running.lastProgressAt = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - running.lastProgressAt! < timeoutSeconds * 1000) return;
      clearInterval(watchdog);
      running.timedOut = true;
      this.#deps.logger.warn({ jobId: running.held?.record.job_id, timeoutSeconds }, "farm attempt reports no progress; restarting Blender");
      if (!this.#deps.peer.restart()) void this.#deps.peer.requestNow({ type: "cancel", job_id: running.held!.record.job_id }).catch(() => {});
    }, WATCHDOG_INTERVAL_MS);
    return watchdog;
  }

  /**
   * Whatever an attempt wrote to its output folder is stored, even when it failed (a render
   * that died at frame 7 keeps frames 1 to 6). A completed attempt lists its files in its result.
   */
  async #collectOutputs(outputs: OutputFolder, outcome: JobOutcome, blendSource: string | undefined): Promise<JobOutcome> {
    try {
      const artifacts = await outputs.sync();
      if (outcome.status !== "completed") return outcome;
      const result = outcome.result;
      const base = typeof result === "object" && result !== null && !Array.isArray(result) ? result : { result };
      return { ...outcome, result: { ...base, artifacts, ...(blendSource ? { blend: blendSource } : {}) } };
    } catch (error) {
      if (outcome.status !== "completed") return outcome;
      return { status: "failed", error: `the task finished, but its output files could not be stored: ${String(error)}` };
    }
  }

  async #farmGoesOn(task: FarmTask): Promise<boolean> {
    try {
      const farm = await this.#deps.jobs.get(this.#user, task.farm_job_id);
      return !!farm && !isTerminalJobStatus(farm.status);
    } catch {
      return true; // unknown (KV unavailable): run it; a cancel still stops it at report_progress
    }
  }

  /** Runs the work in Blender; never throws. */
  async #execute(work: Work): Promise<JobOutcome> {
    const { peer, artifacts } = this.#deps;
    const jobId = work.job_id;
    const label = work.message_type === "command_dispatch" ? work.command : "script";
    let outcome: JobOutcome;
    if (work.message_type === "command_dispatch" && work.command === SNAPSHOT_COMMAND) {
      return saveSceneSnapshot({ peer, blends: this.#deps.blends, cache: this.#deps.blendCache, userId: this.#user, jobId });
    }
    try {
      const reply = await peer.request(
        work.message_type === "command_dispatch"
          ? { type: "command", command: work.command, params: work.params, job_id: jobId }
          : { type: "script", script: work.script, job_id: jobId },
      );
      outcome = reply.ok
        ? { status: "completed", result: reply.result, handler_ms: reply.duration_ms }
        : {
            status: "failed",
            error: reply.traceback ? `${reply.error}\n${reply.traceback}` : (reply.error ?? "failed"),
            handler_ms: reply.duration_ms,
          };
    } catch (error) {
      const why = error instanceof AddonConnectionLost ? error.message : String(error);
      return {
        status: "failed",
        error: `Blender went away while running ${label} (job ${jobId}): ${why}. The bridge is restarting it; send the job again.`,
      };
    }
    if (outcome.status !== "completed") return outcome;
    const params = work.message_type === "command_dispatch" ? work.params : {};
    try {
      return { ...outcome, result: await storeLargeResults(artifacts, this.#user, jobId, label, params, outcome.result) };
    } catch (error) {
      return { status: "failed", error: `${label} finished, but its result could not be stored: ${String(error)}` };
    }
  }

  /**
   * Records the end until KV takes it: while this boot lives, nobody else will settle the
   * job, so giving up would leave it running forever.
   */
  async #finish(held: HeldJob, outcome: JobOutcome): Promise<void> {
    while (!this.#stopped) {
      try {
        if (!(await this.#deps.jobs.finish(held, outcome))) {
          this.#deps.logger.warn({ jobId: held.record.job_id }, "the job was settled by someone else while it ran");
        }
        return;
      } catch (error) {
        this.#deps.logger.error({ err: error, jobId: held.record.job_id }, "job end not recorded yet; retrying");
        await delay(FINISH_RETRY_MS);
      }
    }
  }

  async #reportProgress(progress: AddonProgress): Promise<void> {
    const running = this.#running;
    const held = running?.held;
    if (!held || held.record.job_id !== progress.job_id) return;
    running.lastProgressAt = Date.now();
    // A render reports each frame: store what it has written so far.
    if (running.outputs) this.#logFailure(running.outputs.sync(), "outputs not stored yet");
    await this.#deps.jobs.progress(held, progress.fraction, progress.message);
  }

  /** Queued work is dropped (and never runs); a running script gets its cancellation flag. */
  async #cancel(jobId: string): Promise<CancelOutcome> {
    const queued = this.#queue.remove(jobId);
    if (queued) {
      try {
        await this.#deps.jobs.cancelQueued(this.#user, jobId, "cancelled while queued");
      } catch (error) {
        queued.item.delivery.retryLater(CLAIM_RETRY_MS); // comes again; the claim decides then
        throw error;
      }
      queued.item.delivery.done();
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
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#idleCheck);
    for (const subscription of this.#workSubscriptions) subscription.stop();
    for (const wake of this.#idleWaiters.splice(0)) wake();
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
  }
}
