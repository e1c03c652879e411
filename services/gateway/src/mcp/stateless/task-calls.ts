/**
 * Long calls as tasks (the `io.modelcontextprotocol/tasks` extension, 2026-07-28 wire). A
 * client that declares the extension and calls a tool that starts a job (a render, a farm
 * map, a submit) gets a task instead of the job id in text: the task *is* the job, `taskId`
 * its job id. The job record in KV is the task's whole state, so `tasks/get` and
 * `tasks/cancel` work on any replica, and after any gateway restart; nothing is held here.
 *
 * A dispatch tool called with a `_timeout` longer than the longest tier's wait is a task too:
 * it is submitted as blender_submit would (its `_timeout` the deadline to start), instead of
 * holding a request open for minutes.
 *
 * A client that did not declare the extension keeps today's answer (the job id, to follow
 * with blender_job_status; a dispatch waits).
 */
import { DISPATCH_COMMAND_NAMES, TIMEOUT_TIERS, isTerminalJobStatus, type JobRecord } from "@blender-fabric/protocol";
import { RpcError } from "../rpc-error.js";
import { runToolCall, type ToolCallDependencies } from "../run-tool-call.js";
import type { ToolContext } from "../tool-context.js";
import { SERVER_INFO } from "../create-mcp-server.js";
import { MetaKey, StatelessCode, declaresTasks, type StatelessRequest } from "./wire.js";
import type { GatewayEnv } from "../../env.js";

/** Tools whose answer is a job that outlives the call. */
const TASK_TOOLS = new Set(["blender_render_frames", "blender_farm_map", "blender_submit"]);

/** A dispatch that would wait longer than this is a task. s */
const LONG_DISPATCH_SECONDS = TIMEOUT_TIERS.medium;

const DISPATCH_TOOLS = new Set(DISPATCH_COMMAND_NAMES.map((command) => `blender_${command}`));

/** The blender_submit call that starts the same work as a long dispatch, or undefined. */
function asSubmit(name: string, args: unknown): { name: string; args: Record<string, unknown> } | undefined {
  if (!DISPATCH_TOOLS.has(name) || typeof args !== "object" || args === null) return undefined;
  const { _timeout, _request_id, target_uuid, bus_id, ...params } = args as Record<string, unknown>;
  if (typeof _timeout !== "number" || _timeout <= LONG_DISPATCH_SECONDS) return undefined;
  return {
    name: "blender_submit",
    args: {
      command: name.slice("blender_".length),
      params,
      deadline_seconds: _timeout,
      ...(target_uuid === undefined ? {} : { target_uuid }),
      ...(bus_id === undefined ? {} : { bus_id }),
      ...(_request_id === undefined ? {} : { request_id: _request_id }),
    },
  };
}

/** How often a client should poll a task. ms */
const POLL_INTERVAL_MS = 2_000;

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();

export class TaskCalls {
  readonly #dependencies: ToolCallDependencies & { env: GatewayEnv };

  constructor(dependencies: ToolCallDependencies & { env: GatewayEnv }) {
    this.#dependencies = dependencies;
  }

  /**
   * Runs a task tool for a client that declared tasks, and answers a `CreateTaskResult`
   * once the job is stored (so `tasks/get` finds it on any replica). Undefined when the call
   * is not a task: another tool, a client without the extension, or an answer that started
   * no job (a refusal, invalid arguments), which the caller answers as it is.
   */
  async startIfWanted(request: StatelessRequest, context: ToolContext): Promise<Record<string, unknown> | undefined> {
    if (!declaresTasks(request)) return undefined;
    const called = request.params.name as string;
    const call = TASK_TOOLS.has(called) ? { name: called, args: request.params.arguments } : asSubmit(called, request.params.arguments);
    if (!call) return undefined;
    const result = await runToolCall(this.#dependencies, call.name, call.args, context);
    const answer = result.structuredContent as { status?: string; job_id?: unknown } | undefined;
    const record = typeof answer?.job_id === "string" && !result.isError ? await context.services.jobs.get(context.identity.userId, answer.job_id) : undefined;
    if (!record) return { resultType: "complete", ...result, _meta: { [MetaKey.serverInfo]: SERVER_INFO } };
    const task = this.#taskOf(record);
    return { ...task, status: "working", resultType: "task", _meta: { [MetaKey.serverInfo]: SERVER_INFO } };
  }

  /** `tasks/get`: the job's state, and when it ended, its blender_job_status answer as the result. */
  async get(request: StatelessRequest, context: ToolContext): Promise<Record<string, unknown>> {
    const record = await this.#jobOf(request, context);
    const task = this.#taskOf(record);
    if (!isTerminalJobStatus(record.status)) return { ...task, status: "working", statusMessage: progressMessage(record) };
    if (record.status === "cancelled") return { ...task, status: "cancelled", statusMessage: record.error || "cancelled" };
    // A job that failed, expired or was lost is a completed task whose result is an error
    // result: the tool ran and said why, as a call that waited would have.
    const result = await runToolCall(this.#dependencies, "blender_job_status", { job_id: record.job_id }, context);
    return { ...task, status: "completed", statusMessage: record.status, result };
  }

  /** `tasks/cancel`: the job is cancelled as blender_job_cancel does (cooperative). */
  async cancel(request: StatelessRequest, context: ToolContext): Promise<Record<string, unknown>> {
    const record = await this.#jobOf(request, context);
    if (!isTerminalJobStatus(record.status)) await runToolCall(this.#dependencies, "blender_job_cancel", { job_id: record.job_id }, context);
    return {};
  }

  async #jobOf(request: StatelessRequest, context: ToolContext): Promise<JobRecord> {
    const taskId = request.params.taskId;
    if (typeof taskId !== "string" || taskId.length === 0) throw new RpcError(StatelessCode.InvalidParams, "Invalid params: taskId is required");
    // Jobs are stored under their user: another user's task id is not found.
    const record = await context.services.jobs.get(context.identity.userId, taskId).catch(() => undefined);
    if (!record) throw new RpcError(StatelessCode.InvalidParams, `Unknown task: ${taskId}`);
    return record;
  }

  #taskOf(record: JobRecord) {
    return {
      taskId: record.job_id,
      createdAt: iso(record.created_at),
      lastUpdatedAt: iso(record.updated_at),
      // A finished job's record is kept this long, then the task is gone.
      ttlMs: this.#dependencies.env.FABRIC_FINISHED_JOB_RETENTION_SECONDS * 1000,
      pollIntervalMs: POLL_INTERVAL_MS,
    };
  }
}

function progressMessage(record: JobRecord): string {
  const percent = Math.round(record.progress * 100);
  return `${record.status}${percent > 0 ? `, ${percent}%` : ""}${record.progress_message ? `: ${record.progress_message}` : ""}`;
}
