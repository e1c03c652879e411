/**
 * A Blender peer on the bus. It is untrusted (DESIGN.md section 9): it reaches the fabric's
 * state only through the peer API (`@blender-fabric/engine`), and runs only work the trusted
 * tier handed it through that API; a bus message is never run, whatever it says (work sent
 * as a bus message becomes a job and work in the gateway first). It queues work by
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
 *
 * Longer than 400 lines: intake, the queue, the pump, the end of jobs and cancels share one
 * state (what runs, what waits, what is being recorded); registration (membership.ts),
 * running a job (job-runner.ts) and farm attempts (farm-attempt.ts) live apart.
 */
import type { NatsConnection, Msg, Subscription } from "@nats-io/transport-node";
import {
  EnvelopeSchema,
  FarmTaskSchema,
  WorkPayloadSchema,
  SNAPSHOT_COMMAND,
  findDispatchCommand,
  subjectForClient,
  type CancelOutcome,
  type FarmTask,
} from "@blender-fabric/protocol";
import { parseJsonSafely } from "@blender-fabric/bus";
import type { HeldJob, JobOutcome, PeerApiClient, PeerFiles, PeerJobs, PeerWork, PeerWorkSubscription, WorkDelivery, WorkSettlement } from "@blender-fabric/engine";
import type { AddonHello, AddonProgress } from "./addon-connection.js";
import type { BlenderPeer } from "./blender-peer.js";
import type { BridgeEnv } from "./env.js";
import type { Logger } from "./logger.js";
import { WorkQueue } from "./work-queue.js";
import { runFarmAttempt, type RunningAttempt } from "./farm-attempt.js";
import type { BlendCache } from "./blend-cache.js";
import { runInBlender, runJob, type Work } from "./job-runner.js";
import { Membership } from "./membership.js";
import { ProgressReports } from "./progress-reports.js";

/** `farmTask`: a task of the group's farm; which attempt it makes is decided when it runs. */
type QueuedItem = { work: Work; delivery: WorkDelivery; farmTask?: FarmTask };

type Running = RunningAttempt & {
  jobId: string;
  /** Set once the claim succeeded. */
  held?: HeldJob;
  cancelRequested?: boolean;
  /** Its progress reports, sent in order and before its end. */
  reports?: ProgressReports;
};

export type BridgeDependencies = {
  env: BridgeEnv;
  nc: NatsConnection;
  api: PeerApiClient;
  work: PeerWork;
  jobs: PeerJobs;
  files: PeerFiles;
  blendCache: BlendCache;
  peer: BlenderPeer;
  logger: Logger;
};

/** Pause before writing a job's end again while the fabric is unavailable. ms */
const FINISH_RETRY_MS = 1_000;
/** Pause before work that could not be claimed (fabric unavailable) comes again. ms */
const CLAIM_RETRY_MS = 1_000;
/** How often an idle timeout (FABRIC_IDLE_SECONDS) looks whether the peer is still idle. ms */
const IDLE_CHECK_MS = 500;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A command that leaves the scene as it was: one that only looks (the catalog's read-only
 * hint), one that writes elsewhere (a screenshot's file), or a snapshot, which saves a copy.
 */
const isReadOnly = (work: Work) => {
  if (work.message_type !== "command_dispatch") return false;
  const command = findDispatchCommand(work.command);
  return work.command === SNAPSHOT_COMMAND || command?.readOnly === true || command?.keepsScene === true;
};

export class Bridge {
  readonly #deps: BridgeDependencies;
  readonly #queue = new WorkQueue<QueuedItem>();
  readonly #subscriptions: Subscription[] = [];
  readonly #workSubscriptions: PeerWorkSubscription[] = [];
  readonly #membership: Membership;
  /** Who waits for what: nothing queued or running (the farm's next ask), or also every end recorded (a drain). */
  #waiters: { ready: () => boolean; wake: () => void }[] = [];
  /** Ends of jobs being recorded in the background. */
  readonly #finishing = new Set<Promise<void>>();
  #running: Running | undefined;
  #idleCheck: NodeJS.Timeout | undefined;
  /** When the peer last had work (or started). ms since the epoch */
  #busyAt = Date.now();
  /** No longer taking new work: it is leaving (idle, or told to stop). */
  #draining = false;
  #stopped = false;
  /**
   * How many jobs that may have changed the scene this boot ran in Blender: every job but a
   * read-only command (a project's peer saves its scene only when this has moved).
   */
  sceneChanges = 0;
  /** Called once when the peer has had nothing to do for FABRIC_IDLE_SECONDS. */
  onIdle: () => void = () => {};

  constructor(deps: BridgeDependencies) {
    this.#deps = deps;
    this.#membership = new Membership(deps.api, deps.env, deps.logger, () => this.#health());
    deps.work.onError = (error, what) => deps.logger.warn({ err: error }, `${what} failed; trying again`);
  }

  get #user(): string {
    return this.#deps.env.FABRIC_USER;
  }

  get #uuid(): string {
    return this.#deps.env.FABRIC_CLIENT_UUID;
  }

  /** This boot's id: written on every job it claims, so a dead boot's jobs can be settled. */
  get incarnation(): string {
    return this.#deps.api.incarnation;
  }

  /**
   * Waits for Blender, registers this boot, subscribes, takes work and starts heartbeating.
   * Registering and opening the peer's consumers go on while `beforeWork` (a project's scene
   * being opened) does; no work is taken before it has settled, and none if it fails.
   */
  async start(beforeWork: Promise<void> = Promise.resolve()): Promise<void> {
    const { peer, env, nc, work, logger } = this.#deps;
    peer.onProgress((progress) => this.#reportProgress(progress));
    // Its own subject carries cancel requests for the jobs it holds; nothing else is heard.
    const subscription = nc.subscribe(subjectForClient(this.#user, this.#uuid), {
      callback: (error, message) => {
        if (!error) this.#receiveMessage(message);
      },
    });
    this.#subscriptions.push(subscription);
    const registered = (async () => {
      await this.#membership.register(await peer.start());
      // A restarted Blender has a new pid: register again (same boot of the bridge).
      peer.onConnected = (hello: AddonHello) => this.#logFailure(this.#membership.register(hello), "registration failed");
      peer.onLost = () => this.#membership.lost();
      if (!this.#stopped) this.#membership.startHeartbeat();
      // The peer API opens the consumers of a registered boot only.
      await work.open();
    })();
    await Promise.all([registered, nc.flush(), beforeWork]);
    if (this.#draining || this.#stopped) return; // told to stop while starting: take nothing
    this.#workSubscriptions.push(work.consume("peer", (delivery) => this.#receiveWork(delivery)));
    if (env.FABRIC_PROJECT_ID) this.#workSubscriptions.push(work.consume("project", (delivery) => this.#receiveWork(delivery)));
    if (env.FABRIC_GROUP_ID || env.FABRIC_FARM_WORKER) {
      this.#workSubscriptions.push(work.consumeFarm(() => this.#whenIdle(), (delivery) => this.#receiveFarmTask(delivery)));
    }
    logger.info({ uptime_ms: Math.round(process.uptime() * 1000) }, "bridge taking work");
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
      this.#whenSettled(),
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
    this.stop();
    await this.#deps.work.leave();
  }

  /**
   * Removes the project's consumer, so whatever the server sent to its last pull goes to the
   * project's next peer at once. Only while this peer still holds the project: the consumer
   * is the next peer's once it has the lease. Call after drain().
   */
  async dropProjectConsumer(): Promise<void> {
    if (this.#deps.env.FABRIC_PROJECT_ID) await this.#deps.work.dropProjectWork();
  }

  /** Whether this peer is on the bus with a live Blender, and which (its /readyz). */
  get registered() {
    return this.#membership.registered;
  }

  #health() {
    return { queue_depth: this.#queue.size, active_jobs: this.#running ? 1 : 0 };
  }

  /**
   * A message on the peer's own subject: a cancel request is answered; anything else is
   * ignored. Work that arrives as a bus message is never run: only the peer API hands work.
   */
  #receiveMessage(message: Msg): void {
    const envelope = EnvelopeSchema.safeParse(parseJsonSafely(message));
    if (!envelope.success || envelope.data.from_uuid === this.#uuid) return;
    const payload = WorkPayloadSchema.safeParse(envelope.data.payload);
    if (!payload.success || payload.data.message_type !== "job_cancel") return;
    this.#cancel(payload.data.job_id)
      .catch((error: unknown) => {
        this.#deps.logger.warn({ err: error }, "cancel failed");
        return "not_found" as const;
      })
      .then((outcome) => message.respond(JSON.stringify({ outcome })));
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
    this.#deps.logger.debug({ jobId: work.job_id }, "work received");
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
    return this.#waitUntil(() => !this.#running && this.#queue.size === 0);
  }

  /** Resolves once nothing is queued or running here and every job's end is recorded. */
  #whenSettled(): Promise<void> {
    return this.#waitUntil(() => !this.#running && this.#queue.size === 0 && this.#finishing.size === 0);
  }

  #waitUntil(ready: () => boolean): Promise<void> {
    if (this.#stopped || ready()) return Promise.resolve();
    return new Promise((wake) => this.#waiters.push({ ready, wake }));
  }

  #wakeWaiters(): void {
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (this.#stopped || waiter.ready()) waiter.wake();
      else this.#waiters.push(waiter);
    }
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
      this.#wakeWaiters();
      this.#schedulePump();
    }
  }

  /**
   * Claims the work (the fence; a farm attempt comes claimed with its task), runs it, then
   * records its end in the background, which also lets the message go: the next job starts
   * meanwhile.
   */
  async #take(running: Running, item: QueuedItem): Promise<void> {
    const { jobs, logger } = this.#deps;
    const { delivery, farmTask } = item;
    let held: HeldJob;
    let attempt = 1;
    if (farmTask) {
      if (!delivery.attempt) return delivery.done(); // the server decides every attempt; none means malformed
      ({ held, attempt } = delivery.attempt);
    } else {
      try {
        const claim = await jobs.claim(item.work.job_id);
        if ("refused" in claim) {
          logger.info({ jobId: item.work.job_id, status: claim.refused?.status }, "work not started: the job is no longer queued");
          return delivery.done();
        }
        held = claim;
      } catch (error) {
        logger.warn({ err: error, jobId: item.work.job_id }, "could not claim work; it comes again");
        delivery.retryLater(CLAIM_RETRY_MS);
        return;
      }
    }
    running.held = held;
    if (farmTask || !isReadOnly(item.work)) this.sceneChanges += 1;
    let outcome = farmTask ? await runFarmAttempt(this.#farmDependencies(), running, farmTask, held) : await runJob(this.#runnerDependencies(), item.work, held);
    // A script stopped by its cancellation flag ends as cancelled, not failed.
    if (running.cancelRequested && outcome.status === "failed") outcome = { status: "cancelled", error: "cancelled while running" };
    // A failed farm attempt with attempts left hands its task back for the next attempt.
    const handBack = farmTask && outcome.status === "failed" && attempt < farmTask.max_attempts;
    const finishing = this.#finish(held, outcome, delivery.settlement(handBack ? 0 : undefined), running.reports).finally(() => {
      this.#finishing.delete(finishing);
      this.#wakeWaiters();
    });
    this.#finishing.add(finishing);
  }

  #runnerDependencies() {
    const { peer, files, blendCache } = this.#deps;
    return { userId: this.#user, peer, files, blendCache };
  }

  #farmDependencies() {
    const { jobs, files, blendCache, peer, logger } = this.#deps;
    return {
      userId: this.#user,
      jobs,
      files,
      blendCache,
      peer,
      logger,
      execute: (jobId: string, script: string) => runInBlender(peer, { message_type: "job_dispatch", job_id: jobId, script }),
    };
  }

  /**
   * Records the end until the fabric takes it: while this boot lives, nobody else will
   * settle the job, so giving up would leave it running forever.
   */
  async #finish(held: HeldJob, outcome: JobOutcome, settlement: WorkSettlement, reports?: ProgressReports): Promise<void> {
    // The caller sees every report before the answer (progress-reports.ts).
    await reports?.flushed();
    while (!this.#stopped) {
      try {
        if (!(await this.#deps.jobs.finish(held, outcome, settlement))) {
          this.#deps.logger.warn({ jobId: held.record.job_id }, "the job was settled by someone else while it ran");
        }
        return;
      } catch (error) {
        // Refused outright (the job is not this boot's any more): nothing to retry.
        if ((error as { code?: string }).code === "forbidden" || (error as { code?: string }).code === "not_found") {
          this.#deps.logger.warn({ err: error, jobId: held.record.job_id }, "job end refused");
          this.#deps.work.settle(settlement);
          return;
        }
        this.#deps.logger.error({ err: error, jobId: held.record.job_id }, "job end not recorded yet; retrying");
        await delay(FINISH_RETRY_MS);
      }
    }
  }

  #reportProgress(progress: AddonProgress): void {
    const running = this.#running;
    const held = running?.held;
    if (!held || held.record.job_id !== progress.job_id) return;
    running.lastProgressAt = Date.now();
    // A render reports each frame: store what it has written so far.
    if (running.outputs) this.#logFailure(running.outputs.sync(), "outputs not stored yet");
    running.reports ??= new ProgressReports(
      (report) => this.#deps.jobs.progress(held, report.fraction, report.message),
      (error) => this.#deps.logger.warn({ err: error, jobId: held.record.job_id }, "progress not reported"),
    );
    running.reports.report({ fraction: progress.fraction, message: progress.message });
  }

  /** Queued work is dropped (and never runs); a running script gets its cancellation flag. */
  async #cancel(jobId: string): Promise<CancelOutcome> {
    const queued = this.#queue.remove(jobId);
    if (queued) {
      try {
        await this.#deps.jobs.cancelQueued(jobId, "cancelled while queued");
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
    this.#membership.stop();
    this.#deps.work.stop();
    clearInterval(this.#idleCheck);
    for (const subscription of this.#workSubscriptions) subscription.stop();
    this.#wakeWaiters();
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
  }
}
