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
type Job = { job_id: string; kind: string; command: string | null; status: string; progress: number; target_uuid: string | null; error: string };

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

const jobRows = (jobs: Job[]) =>
  jobs.map((job) => [
    job.job_id,
    job.kind,
    job.command ?? "",
    job.status,
    `${Math.round(job.progress * 100)}%`,
    job.target_uuid ?? "",
    job.error.split("\n")[0] ?? "",
  ]);

/** The newest jobs; with `watch`, redrawn every second until Ctrl-C. */
export async function printJobs(options: GatewayOptions & { status?: string; limit: number; watch: boolean }): Promise<void> {
  const session = await openFabricSession(options);
  const draw = async () => {
    const listing = await session.call<{ jobs: Job[] }>("blender_list_jobs", { status: options.status ?? null, limit: options.limit });
    const table = formatTable(["JOB", "KIND", "COMMAND", "STATUS", "PROGRESS", "PEER", "ERROR"], jobRows(listing.jobs));
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
