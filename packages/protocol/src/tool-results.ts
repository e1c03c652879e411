/**
 * What a tool's answer says about itself (MCP): which statuses are failures (`isError: true`,
 * so clients that look only at that flag see them), and the output schemas of the answers,
 * which clients use to check `structuredContent`.
 */
import { z } from "zod";
import { JOB_STATUSES } from "./job.js";

/**
 * Statuses that mean the call did not do what was asked. The JSON text stays the seed's;
 * only the flag is added. A job tool that reports another job's status (job_status) is not
 * itself failing when that job failed; such tools decide for themselves.
 */
export const TOOL_ERROR_STATUSES: ReadonlySet<string> = new Set([
  "failed",
  "timeout",
  "lost",
  "expired",
  "no_client",
  "ambiguous_target",
  "unknown_target",
  "not_a_member",
  "wrong_role",
  "invalid_params",
  "not_found",
  "snapshot_failed",
  "quota_exceeded",
  "not_controllable",
  "error",
]);

export const isErrorStatus = (status: string) => TOOL_ERROR_STATUSES.has(status);

/** Refusals any tool that checks its caller or target may answer with. */
const REFUSALS = ["invalid_params", "not_a_member", "wrong_role", "no_client", "unknown_target", "ambiguous_target", "quota_exceeded", "error"] as const;

/**
 * An answer: `status` from a closed set plus the fields named; other fields may appear
 * (loose), so a field added later does not break a client that checks the schema.
 */
export function toolResultSchema<Statuses extends readonly [string, ...string[]]>(statuses: Statuses, fields: z.ZodRawShape = {}) {
  return z.looseObject({ status: z.enum([...statuses, ...REFUSALS]), error: z.string().optional(), ...fields });
}

/** Every status a dispatch answer can have: the job's, or why it did not start. */
export const DISPATCH_RESULT_STATUSES = [...JOB_STATUSES, "timeout"] as const;

/**
 * A dispatch tool's answer as structured content: the seed's fields, with `result` the
 * handler's return value as an object (in the text it is JSON text, as in the seed).
 */
export const DispatchResultSchema = toolResultSchema(DISPATCH_RESULT_STATUSES, {
  command: z.string().optional(),
  target_uuid: z.string().nullable().optional(),
  job_id: z.string().nullable().optional(),
  result: z.unknown().optional(),
  handler_ms: z.number().optional(),
  message: z.string().optional(),
});

/** The handler's return value as an object, not the seed's JSON text (dispatch answers, job_result). */
export function withParsedResult(answer: Record<string, unknown>): Record<string, unknown> {
  if (typeof answer.result !== "string") return answer;
  if (answer.result === "") return { ...answer, result: null };
  try {
    return { ...answer, result: JSON.parse(answer.result) as unknown };
  } catch {
    return answer; // not JSON: kept as the text it is
  }
}

const anyRecord = z.looseObject({});
const ids = z.array(z.string());

/** The answers of the bus, job, farm and artifact tools (seed 003's shapes, and ours). */
export const ToolOutputSchemas = {
  registerClient: toolResultSchema(["ok"], { client: anyRecord.optional() }),
  unregisterClient: toolResultSchema(["ok", "not_found"], { client_uuid: z.string().optional() }),
  receiveMessages: toolResultSchema(["ok", "not_found"], {
    client_uuid: z.string().optional(),
    messages: z.array(z.looseObject({ cursor: z.string() })).optional(),
    next_cursor: z.string().optional(),
    has_more: z.boolean().optional(),
  }),
  sendMessage: toolResultSchema(["ok"], {
    message_id: z.string().optional(),
    job_id: z.string().optional(),
    targets: ids.optional(),
    routing: anyRecord.optional(),
  }),
  jobUpdate: toolResultSchema(["ok"], { delivered: z.enum(["direct", "broadcast"]).optional(), targets: ids.optional() }),
  listAvailableClients: toolResultSchema(["ok"], {
    user_id: z.string().optional(),
    persistent: z.array(anyRecord).optional(),
    ephemeral: z.array(anyRecord).optional(),
    total: z.number().optional(),
    page: z.number().optional(),
    page_size: z.number().optional(),
    has_more: z.boolean().optional(),
  }),
  farmJob: toolResultSchema(["queued", "snapshot_failed"], {
    job_id: z.string().optional(),
    group_id: z.string().nullable().optional(),
    tasks: z.number().optional(),
    items: z.number().optional(),
    frames: z.number().optional(),
    blend: anyRecord.optional(),
  }),
  submit: toolResultSchema(JOB_STATUSES, { job_id: z.string().optional(), command: z.string().optional(), target_uuid: z.string().nullable().optional() }),
  jobStatus: toolResultSchema([...JOB_STATUSES, "not_found"], {
    job_id: z.string().optional(),
    kind: z.string().optional(),
    progress: z.number().optional(),
    result: z.unknown().optional(),
    farm: anyRecord.optional(),
  }),
  jobResult: DispatchResultSchema.extend({ status: z.enum([...DISPATCH_RESULT_STATUSES, "not_found", "invalid_params", "error"]) }),
  listJobs: toolResultSchema(["ok"], { total: z.number().optional(), jobs: z.array(anyRecord).optional() }),
  jobCancel: toolResultSchema(["cancelled", "cancelling", "not_cancellable", "not_found"], {
    job_id: z.string().optional(),
    job_status: z.string().optional(),
    message: z.string().optional(),
  }),
  farmControl: toolResultSchema(["ok", "not_controllable", "not_found"], {
    job_id: z.string().optional(),
    job_status: z.string().optional(),
    paused: z.boolean().optional(),
    priority: z.string().optional(),
    tasks_published: z.number().optional(),
    message: z.string().optional(),
  }),
  listArtifacts: toolResultSchema(["ok", "not_found"], { job_id: z.string().optional(), total: z.number().optional(), artifacts: z.array(anyRecord).optional() }),
} as const;
