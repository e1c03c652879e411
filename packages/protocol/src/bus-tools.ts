/**
 * Inputs of the five bus tools (seed 003: exact parameter names and defaults) and the
 * structured error every tool returns for invalid arguments.
 */
import { z } from "zod";
import { IdentifierSchema } from "./identifiers.js";
import { PrioritySchema } from "./priority.js";
import { RequestIdSchema } from "./dispatch.js";

export const RegisterClientInputSchema = z.object({
  client_uuid: IdentifierSchema.describe("Your client's uuid on the bus."),
  client_type: IdentifierSchema.describe('"blender", "llm", or another type name.'),
  // Absent fields keep their registered values on re-registration (DESIGN.md: "absent
  // optional fields keep old values"); a first registration defaults them as the seed does.
  is_persistent: z.boolean().optional().describe("Default false. Sticky once registered."),
  capabilities: z.array(z.string().min(1).max(64)).max(64).optional().describe("Default []."),
  group_id: IdentifierSchema.nullable().optional().describe("Default null; null leaves the group."),
});

export const UnregisterClientInputSchema = z.object({
  client_uuid: IdentifierSchema.describe("The client to take off the bus (one your session registered)."),
});

/** The longest blender_receive_messages waits for a message, in seconds. */
export const MAX_RECEIVE_WAIT_SECONDS = 50;

export const ReceiveMessagesInputSchema = z.object({
  client_uuid: IdentifierSchema.optional().describe(
    "Whose inbox to read: a client you registered. May be left out by a session that registered exactly one client.",
  ),
  after: z
    .string()
    .max(64)
    .nullable()
    .default(null)
    .describe("The cursor to read after: next_cursor of your last read. null reads from the oldest kept message."),
  wait_seconds: z
    .number()
    .min(0)
    .max(MAX_RECEIVE_WAIT_SECONDS)
    .default(0)
    .describe(`Wait up to this long for a message when none is waiting (at most ${MAX_RECEIVE_WAIT_SECONDS}); 0 answers at once.`),
  limit: z.number().int().min(1).max(100).default(50).describe("Most messages in one answer (1 to 100)."),
});

/** Largest `payload` accepted by `blender_send_message` unless configured otherwise. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;

/** `send_message` input; `maxPayloadBytes` bounds the JSON size of `payload`. */
export function createSendMessageInputSchema(maxPayloadBytes: number) {
  return z.object({
    payload: z
      .record(z.string(), z.unknown())
      .refine((payload) => Buffer.byteLength(JSON.stringify(payload)) <= maxPayloadBytes, {
        message: `must be at most ${maxPayloadBytes} bytes as JSON`,
      })
      .refine((payload) => payload.job_id === undefined || IdentifierSchema.safeParse(payload.job_id).success, {
        message: "job_id must be a non-empty string without '.', '*', '>' or whitespace",
      })
      .describe("Opaque to the bus. A runnable job is {message_type: 'job_dispatch', job_id, script}."),
    target_uuid: IdentifierSchema.nullable().default(null).describe("Direct: to this client only."),
    group_id: IdentifierSchema.nullable().default(null).describe("To every member of this group."),
    client_type: IdentifierSchema.nullable().default(null).describe("To every client of this type. With none of the three: to everyone on your bus."),
    priority: PrioritySchema.default("info").describe("How the receivers' sessions log it (their log level filters it)."),
    from_uuid: IdentifierSchema.nullable().default(null).describe("Your registered client uuid, so answers (blender_job_update) come back to it."),
    request_id: RequestIdSchema,
  });
}

export const JobUpdateInputSchema = z.object({
  job_id: IdentifierSchema.describe("The job, as its sender named it."),
  status: z
    .string()
    .regex(/^[a-z_]{1,32}$/, "must be a status word such as completed, failed, cancelled, running")
    .describe("running, completed, failed or cancelled (another word only updates progress)."),
  result: z.string().default("").describe("The job's result (text, JSON as a string)."),
  error: z.string().default("").describe("Why it failed, when it did."),
});

/** Most clients one page of `blender_list_available_clients` holds. */
export const MAX_CLIENTS_PAGE_SIZE = 500;

export const ListAvailableClientsInputSchema = z.object({
  include_stale: z.boolean().default(false).describe("Also list clients silent past the stale limit."),
  // Filters and paging (not in the seed): a bus of thousands of peers is too long for an LLM.
  group_id: z.string().min(1).nullable().default(null).describe("Only clients of this group."),
  client_type: z.string().min(1).nullable().default(null).describe("Only clients of this type, e.g. blender."),
  capability: z.string().min(1).nullable().default(null).describe("Only clients with this capability, e.g. gpu."),
  page: z.number().int().min(1).default(1).describe("Page number, from 1."),
  page_size: z
    .number()
    .int()
    .min(1)
    .max(MAX_CLIENTS_PAGE_SIZE)
    .default(100)
    .describe("Clients per page, persistent ones first; `total` and `has_more` say whether there are more."),
});

/** What a tool returns when its arguments do not validate. */
export type InvalidParamsResult = {
  status: "invalid_params";
  /** Dotted path of the first offending field, e.g. `payload` or `capabilities.2`. */
  field: string;
  error: string;
  issues: { field: string; message: string }[];
};

export function toInvalidParamsResult(error: z.ZodError): InvalidParamsResult {
  const issues = error.issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "(arguments)",
    message: issue.message,
  }));
  const first = issues[0] ?? { field: "(arguments)", message: "invalid arguments" };
  return {
    status: "invalid_params",
    field: first.field,
    error: issues.map(({ field, message }) => `${field}: ${message}`).join("; "),
    issues,
  };
}
