/**
 * `blender-fabric clients`, `jobs [--watch]` and `tail`: what an operator looks at without an
 * LLM and without the `nats` CLI.
 */
import { connect } from "@nats-io/transport-node";
import { EnvelopeSchema, JobEventSchema, encodeToken } from "@blender-fabric/protocol";
import { authenticatorFor, parseJsonSafely } from "@blender-fabric/bus";
import { openFabricSession, type GatewayOptions } from "./fabric-session.js";
import { formatTable } from "./table.js";

type Client = { uuid: string; client_type: string; group_id: string | null; capabilities: string[]; last_seen_seconds_ago: number; stale: boolean };
type Job = { job_id: string; kind: string; command: string | null; status: string; progress: number; target_uuid: string | null; error: string; parent_job_id: string | null };
/** What `jobs` shows of a farm job: from its blender_job_status. */
type FarmView = {
  farm: { frames_done?: number; frames_total?: number; tasks_total: number; tasks_by_status: Record<string, number>; group_id: string | null; paused: boolean; priority: string };
};

/** Every client of the token's user, persistent first. */
export async function printClients(options: GatewayOptions & { all: boolean }): Promise<void> {
  const session = await openFabricSession(options);
  try {
    const listing = await session.call<{ persistent: Client[]; ephemeral: Client[] }>("blender_list_available_clients", { include_stale: options.all });
    const rows = [...listing.persistent, ...listing.ephemeral].map((client) => [
      client.uuid,
      client.client_type,
      client.group_id ?? "",
      client.capabilities.join(","),
      `${Math.round(client.last_seen_seconds_ago)} s ago${client.stale ? " (stale)" : ""}`,
    ]);
    process.stdout.write(`${formatTable(["UUID", "TYPE", "GROUP", "CAPABILITIES", "LAST SEEN"], rows)}\n`);
  } finally {
    await session.close();
  }
}

/**
 * A farm job's progress as frames (a render) or tasks (a farm map) done of all, and where it
 * runs. Read from its status summary (no tasks listed: its size does not grow with the job),
 * one call per farm job listed.
 */
function farmProgress(view: FarmView | undefined): { progress: string; where: string } {
  if (!view?.farm) return { progress: "", where: "" };
  const { farm } = view;
  const progress =
    farm.frames_total !== undefined ? `frames ${farm.frames_done ?? 0}/${farm.frames_total}` : `tasks ${farm.tasks_by_status.completed ?? 0}/${farm.tasks_total}`;
  const where = farm.group_id ? `group ${farm.group_id}` : "farm pool";
  return { progress: farm.paused ? `${progress} (paused)` : progress, where: farm.priority === "normal" ? where : `${where}, ${farm.priority}` };
}

async function jobRows(session: Awaited<ReturnType<typeof openFabricSession>>, jobs: Job[]): Promise<string[][]> {
  const farms = new Map(
    await Promise.all(
      jobs.filter((job) => job.kind === "farm").map(async (job) => [job.job_id, await session.call<FarmView>("blender_job_status", { job_id: job.job_id, tasks_limit: 0 }).catch(() => undefined)] as const),
    ),
  );
  return jobs.map((job) => {
    const farm = job.kind === "farm" ? farmProgress(farms.get(job.job_id)) : undefined;
    return [
      job.job_id,
      // A farm attempt (listed with --attempts) says whose attempt it is.
      job.parent_job_id ? `attempt of ${job.parent_job_id}` : job.kind,
      job.command ?? "",
      job.status,
      farm ? farm.progress : `${Math.round(job.progress * 100)}%`,
      farm ? farm.where : (job.target_uuid ?? ""),
      job.error.split("\n")[0] ?? "",
    ];
  });
}

/** The newest jobs (a farm job as one row; its attempts with `attempts`); with `watch`, redrawn every second until Ctrl-C. */
export async function printJobs(options: GatewayOptions & { status?: string; limit: number; watch: boolean; attempts: boolean }): Promise<void> {
  const session = await openFabricSession(options);
  const draw = async () => {
    const listing = await session.call<{ jobs: Job[] }>("blender_list_jobs", { status: options.status ?? null, limit: options.limit, include_attempts: options.attempts });
    const table = formatTable(["JOB", "KIND", "COMMAND", "STATUS", "PROGRESS", "WHERE", "ERROR"], await jobRows(session, listing.jobs));
    process.stdout.write(options.watch ? `\x1b[2J\x1b[H${new Date().toISOString()}\n${table}\n` : `${table}\n`);
  };
  try {
    await draw();
    if (!options.watch) return;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => void draw().catch(() => {}), 1_000);
      process.once("SIGINT", () => {
        clearInterval(timer);
        resolve();
      });
    });
  } finally {
    await session.close();
  }
}

/** One readable line per message on the user's subjects (`user.<u>.>`), until Ctrl-C. */
export async function tailTraffic(options: { nats: string; user: string; nkey?: string; creds?: string }): Promise<void> {
  const nc = await connect({
    servers: options.nats.split(","),
    name: "blender-fabric-tail",
    authenticator: await authenticatorFor({ nkeySeedFile: options.nkey, credsFile: options.creds }),
  });
  const prefix = `user.${encodeToken(options.user)}.`;
  const subscription = nc.subscribe(`${prefix}>`, {
    callback: (error, message) => {
      if (error) return;
      const where = message.subject.slice(prefix.length);
      process.stdout.write(`${new Date().toISOString().slice(11, 23)}  ${describeMessage(where, parseJsonSafely(message))}\n`);
    },
  });
  await nc.flush();
  process.stderr.write(`tailing ${prefix}> on ${options.nats} (Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  subscription.unsubscribe();
  await nc.close();
}

function describeMessage(where: string, data: unknown): string {
  const envelope = EnvelopeSchema.safeParse(data);
  if (envelope.success) {
    const { from_uuid, routing, priority, payload } = envelope.data;
    const to = routing.type === "direct" ? routing.target_uuid : routing.type === "group" ? `group ${routing.group_id}` : routing.type;
    return `${where}  ${from_uuid} → ${to}  [${priority}]  ${JSON.stringify(payload).slice(0, 160)}`;
  }
  const event = JobEventSchema.safeParse(data);
  if (event.success) {
    const { job_id, status, progress, error } = event.data;
    return `${where}  job ${job_id} ${status}${progress === undefined ? "" : ` ${Math.round(progress * 100)}%`}${error ? `  ${error.split("\n")[0]}` : ""}`;
  }
  return `${where}  ${JSON.stringify(data ?? null).slice(0, 160)}`;
}
