/**
 * The farm (DESIGN.md section 8): `blender_farm_map` splits its items into chunks and queues
 * one task per chunk on the group's work subject. Every idle peer of the group pulls the next
 * task, so adding a bridge adds throughput with no configuration anywhere else. Each task is
 * a job of its own; the farm job is their parent, and the reaper settles it once all ended.
 */
import {
  FarmMapInputSchema,
  chunk,
  farmTaskJobId,
  newFarmAttemptRecord,
  newJobRecord,
  type FarmSummary,
  type FarmTask,
} from "@blender-fabric/protocol";
import { JobExistsError, createEnvelope, type HeldJob } from "@blender-fabric/bus";
import { defineTool, type ToolDefinition } from "../mcp/tool-catalog.js";
import type { ToolContext } from "../mcp/tool-context.js";
import { ticketFor } from "../dispatch/queue-job.js";
import { refuseCaller } from "./caller-checks.js";

const farmMap = defineTool({
  name: "blender_farm_map",
  description:
    "Run a script over many items on a farm: the items are split into chunks of chunk_size, and every idle " +
    "Blender peer of group_id takes the next chunk. In the script, `items` is the task's chunk; " +
    "report_progress(fraction, message) reports on it. Answers at once with the farm job_id; follow it with " +
    "blender_job_status (tasks by status). Pass a request_id and reuse it when you retry.",
  inputSchema: FarmMapInputSchema,
  async handler(input, context) {
    const refusal = refuseCaller(context, input.bus_id);
    if (refusal) return refusal;
    const { script, items, chunk_size, group_id, capabilities, max_attempts, max_peer_failures, task_timeout_seconds } = input;
    const ticket = await ticketFor(context, {
      tool: "blender_farm_map",
      requestId: input.request_id,
      command: "farm_map",
      params: { script, items, chunk_size, group_id, capabilities, max_attempts, max_peer_failures, task_timeout_seconds },
    });
    if ("status" in ticket) return ticket;
    const chunks = chunk(items, chunk_size);
    const summary: FarmSummary = {
      group_id,
      task_ids: chunks.map((_, index) => farmTaskJobId(ticket.jobId, index)),
      items_total: items.length,
      max_attempts,
      max_peer_failures,
      capabilities,
      failures: {},
    };
    await recordFarm(context, ticket.jobId, summary);
    // A repeat (its first gateway may have died half-way) queues what is not queued yet;
    // the stream drops the copies of what is.
    const task = { script, task_timeout_seconds };
    await Promise.all(chunks.map((taskItems, index) => queueTask(context, ticket.jobId, summary, index, task, taskItems)));
    return { status: "queued", job_id: ticket.jobId, group_id, tasks: summary.task_ids.length, items: items.length };
  },
});

async function recordFarm(context: ToolContext, farmJobId: string, summary: FarmSummary): Promise<void> {
  const record = newJobRecord({
    job_id: farmJobId,
    bus_id: context.identity.userId,
    originator_uuid: null,
    target_uuid: null,
    kind: "farm",
    command: "farm_map",
  });
  await context.services.jobs.create({ ...record, result: summary }).catch(ignoreExisting);
}

async function queueTask(
  context: ToolContext,
  farmJobId: string,
  summary: FarmSummary,
  index: number,
  { script, task_timeout_seconds }: Pick<FarmTask, "script" | "task_timeout_seconds">,
  items: unknown[],
) {
  const { jobs, work } = context.services;
  const userId = context.identity.userId;
  const taskId = summary.task_ids[index]!;
  const record = newFarmAttemptRecord(userId, farmJobId, taskId);
  let entry: HeldJob | undefined;
  try {
    entry = { record, revision: await jobs.create(record) };
  } catch (error) {
    ignoreExisting(error);
    entry = await jobs.entry(userId, taskId);
  }
  if (entry?.record.status !== "queued") return;
  const task: FarmTask = {
    message_type: "farm_task",
    job_id: taskId,
    farm_job_id: farmJobId,
    script,
    items,
    max_attempts: summary.max_attempts,
    capabilities: summary.capabilities,
    task_timeout_seconds,
  };
  const envelope = createEnvelope({
    userId,
    fromUuid: `server:${userId}`,
    routing: { type: "group", group_id: summary.group_id },
    // Below every interactive priority: a farm peer runs a dispatch before its next task.
    priority: "debug",
    jobId: taskId,
    payload: task,
  });
  await work.publishToGroup(userId, summary.group_id, envelope, `${taskId}@${entry.revision}`);
}

const ignoreExisting = (error: unknown) => {
  if (!(error instanceof JobExistsError)) throw error;
};

export const createFarmTools = (): ToolDefinition[] => [farmMap];
