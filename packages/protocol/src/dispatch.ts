/**
 * What travels to a Blender peer (seed 001): `command_dispatch` for a named handler,
 * `job_dispatch` for a script, and `job_cancel` asking a peer to drop or stop a job.
 * Anything else on a peer's subjects (announcements, proposals) is not work and is ignored.
 */
import { z } from "zod";
import { IdentifierSchema } from "./identifiers.js";
import { PROJECT_ID_RULE, isValidProjectId, projectOfTarget } from "./project.js";
import { DISPATCH_COMMAND_NAMES, TIMEOUT_TIERS } from "./dispatch-commands.js";
import { JOB_STATUSES } from "./job.js";

/** How long an idempotency key is remembered (the `fabric_requests` bucket's max age). Seconds. */
export const REQUEST_ID_RETENTION_SECONDS = 24 * 60 * 60;

/** The optional idempotency key of every tool that starts work or sends a message. */
export const RequestIdSchema = IdentifierSchema.nullable()
  .default(null)
  .describe(
    "Optional idempotency key you choose (remembered 24 h). Reuse the same request_id when you " +
      "retry after a timeout or a transport error: a repeat returns or waits on the first job " +
      "instead of running it again.",
  );

export const CommandDispatchSchema = z.object({
  message_type: z.literal("command_dispatch"),
  job_id: IdentifierSchema,
  command: z.string(),
  params: z.record(z.string(), z.unknown()).default({}),
});
export type CommandDispatch = z.infer<typeof CommandDispatchSchema>;

export const JobDispatchSchema = z.object({
  message_type: z.literal("job_dispatch"),
  job_id: IdentifierSchema,
  script: z.string(),
});
export type JobDispatch = z.infer<typeof JobDispatchSchema>;

export const JobCancelSchema = z.object({
  message_type: z.literal("job_cancel"),
  job_id: IdentifierSchema,
});

export const WorkPayloadSchema = z.discriminatedUnion("message_type", [
  CommandDispatchSchema,
  JobDispatchSchema,
  JobCancelSchema,
]);
export type WorkPayload = z.infer<typeof WorkPayloadSchema>;

/** A bridge's answer to a `job_cancel` request. */
export const CancelOutcomeSchema = z.enum(["removed_from_queue", "cancel_requested", "not_found"]);
export type CancelOutcome = z.infer<typeof CancelOutcomeSchema>;

/** How a dispatch tool names its target: a uuid, `latest`, or `pid:<n>`. */
export const TargetSelectorSchema = IdentifierSchema.refine((selector) => {
  const project = projectOfTarget(selector);
  return project === undefined || isValidProjectId(project);
}, { message: `project:<id>: ${PROJECT_ID_RULE}` }).describe(
  "A client uuid, 'latest' (the most recently connected live Blender peer), 'pid:<n>', or " +
    "'project:<id>' (the peer of that project, started on demand with the project's saved scene).",
);

/** Arguments every dispatch tool accepts besides its command's own. */
/** `target_uuid` as every tool that runs work on a peer takes it (described outside the nullable, so the JSON schema shows it). */
const TargetUuidArgSchema = TargetSelectorSchema.nullable()
  .default(null)
  .describe(
    "Which Blender peer runs it: a client uuid, 'latest', 'pid:<n>' or 'project:<id>'. Default: your only live Blender peer (with several, name one).",
  );

export const DispatchCommonArgsSchema = z.object({
  target_uuid: TargetUuidArgSchema,
  _timeout: z
    .number()
    .positive()
    .max(TIMEOUT_TIERS.long * 10)
    .nullable()
    .default(null)
    .describe(
      "Seconds to wait. It is also the job's deadline: work not started by then never starts " +
        "(status expired); work already running goes on and the answer says running.",
    ),
  bus_id: z.string().nullable().default(null).describe("The bus (user id); only your own."),
  // Underscored like _timeout: seed 001's Hyper3D commands have a request_id of their own.
  _request_id: RequestIdSchema,
});

/** Longest a job_status long-poll waits, in seconds. */
export const MAX_JOB_STATUS_WAIT_SECONDS = 50;

/** Default deadline of `blender_submit`: queued work that has not started by then expires. Seconds. */
export const DEFAULT_SUBMIT_DEADLINE_SECONDS = 3600;

export const SubmitInputSchema = z.object({
  command: z.enum(DISPATCH_COMMAND_NAMES as [string, ...string[]]).describe("The command to run, as the dispatch tools name it without blender_."),
  params: z.record(z.string(), z.unknown()).default({}).describe("The command's parameters, as its dispatch tool takes them."),
  target_uuid: TargetUuidArgSchema,
  bus_id: z.string().nullable().default(null).describe("The bus (user id); only your own."),
  deadline_seconds: z
    .number()
    .positive()
    .max(REQUEST_ID_RETENTION_SECONDS)
    .default(DEFAULT_SUBMIT_DEADLINE_SECONDS)
    .describe("If the job has not started within this many seconds, it never starts (status expired)."),
  request_id: RequestIdSchema,
});

/** Tasks a farm job's status lists by default, and at most. */
export const DEFAULT_TASKS_PER_PAGE = 100;
export const MAX_TASKS_PER_PAGE = 1_000;

export const JobStatusInputSchema = z.object({
  job_id: IdentifierSchema.describe("The job, as a tool answered it."),
  wait_seconds: z.number().min(0).max(MAX_JOB_STATUS_WAIT_SECONDS).default(0).describe("Wait up to this long for the job to finish before answering (at most 50)."),
  include_preview: z.boolean().default(false).describe("A render farm job: also return its last rendered frame as an image."),
  tasks_offset: z.number().int().min(0).default(0).describe("A farm job: the first task listed (tasks are in submission order)."),
  tasks_limit: z
    .number()
    .int()
    .min(0)
    .max(MAX_TASKS_PER_PAGE)
    .default(DEFAULT_TASKS_PER_PAGE)
    .describe("A farm job: how many tasks to list with their attempts (0: the summary alone, whose size does not grow with the job)."),
});

export const JobIdInputSchema = z.object({ job_id: IdentifierSchema.describe("The job, as a tool answered it.") });

export const ListArtifactsInputSchema = JobIdInputSchema.extend({
  stored_after: z.iso
    .datetime()
    .nullable()
    .default(null)
    .describe("Only files stored after this time (ISO 8601, as in a file's stored_at): a caller following a render lists what is new."),
});

export const ListJobsInputSchema = z.object({
  status: z.enum(JOB_STATUSES).nullable().default(null).describe("Only jobs with this status."),
  limit: z.number().int().min(1).max(500).default(20).describe("At most this many, newest first."),
  include_attempts: z
    .boolean()
    .default(false)
    .describe("Also list farm attempts (each a job of its own). Without it, a farm job is one row; blender_job_status shows its tasks and attempts."),
});
