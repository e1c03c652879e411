/**
 * Benchmark: `blender_send_message` round trips through the fabric against raw NATS
 * request/reply, in the same run, on the same nats-server.
 *
 * Fabric round trip: an MCP session calls blender_send_message (direct routing) and the
 * clock stops when the one receiving MCP client gets the notification on its GET stream:
 * MCP call -> gateway -> NATS -> gateway holding the stream -> SSE -> receiver.
 * Raw round trip: nc.request() to a responder on a plain subject.
 *
 * Run with `npm run bench`. Prints a table and writes test/bench/reports/send-message.md.
 * Nothing here asserts a timing.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { StreamName } from "@blender-fabric/protocol";
import {
  FabricTestClient,
  findProgram,
  mintToken,
  startGatewayProcess,
  startNatsServer,
} from "@blender-fabric/testkit";
import { closedLoops, summarize, type Summary } from "./stats.js";

/** How long each measured phase runs. ms */
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 8_000);
const WARMUP_MS = 1_500;
const CONCURRENCY_LEVELS = [1, 32];

type Row = { path: string; sessions: number } & Summary;

async function benchFabric(mcpUrl: string, natsUrl: string, sessions: number, label = ""): Promise<Row> {
  const token = await mintToken({ sub: "bench" });
  const receiver = await FabricTestClient.connect({ mcpUrls: [mcpUrl], token, name: "receiver" });
  const observer = await connect({ servers: natsUrl });
  await receiver.waitForStream(observer);
  await receiver.call("blender_register_client", { client_uuid: "bench-receiver", client_type: "llm" });
  const senders = await Promise.all(
    Array.from({ length: sessions }, (_, index) =>
      FabricTestClient.connect({ mcpUrls: [mcpUrl], token, name: `sender-${index}` }),
    ),
  );

  // Each message resolves the waiter registered under its id when the receiver gets it.
  const waiters = new Map<string, () => void>();
  receiver.client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      const id = (notification.params.data as { payload: { id: string } }).payload.id;
    waiters.get(id)?.();
    waiters.delete(id);
  });
  let sequence = 0;
  const roundTrip = async (session: number) => {
    const id = `${session}-${(sequence += 1)}`;
    const delivered = new Promise<void>((resolve) => waiters.set(id, resolve));
    await senders[session]!.client.callTool({
      name: "blender_send_message",
      arguments: { target_uuid: "bench-receiver", payload: { id } },
    });
    await delivered;
  };

  await closedLoops(sessions, WARMUP_MS, roundTrip);
  const { latencies, elapsedMs } = await closedLoops(sessions, PHASE_MS, roundTrip);
  await Promise.all([...senders, receiver].map((client) => client.close()));
  await observer.close();
  return { path: `fabric: blender_send_message -> notification${label}`, sessions, ...summarize(latencies, elapsedMs) };
}

async function benchRawNats(natsUrl: string, sessions: number): Promise<Row> {
  const responder: NatsConnection = await connect({ servers: natsUrl });
  responder.subscribe("bench.echo", {
    callback: (_, message) => {
      message.respond(message.data);
    },
  });
  await responder.flush();
  const requesters = await Promise.all(Array.from({ length: sessions }, () => connect({ servers: natsUrl })));
  const roundTrip = async (session: number) => {
    await requesters[session]!.request("bench.echo", JSON.stringify({ session }), { timeout: 5_000 });
  };
  await closedLoops(sessions, WARMUP_MS, roundTrip);
  const { latencies, elapsedMs } = await closedLoops(sessions, PHASE_MS, roundTrip);
  await Promise.all([...requesters, responder].map((nc) => nc.close()));
  return { path: "raw NATS request/reply", sessions, ...summarize(latencies, elapsedMs) };
}

function formatTable(rows: Row[]): string {
  const header = "| path | sessions | round trips | p50 ms | p99 ms | throughput /s |\n|---|---:|---:|---:|---:|---:|";
  const lines = rows.map(
    (row) =>
      `| ${row.path} | ${row.sessions} | ${row.count} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.throughput.toFixed(0)} |`,
  );
  return [header, ...lines].join("\n");
}

const nats = await startNatsServer();
// Every phase opens its sessions anew: more than the default 60 a minute.
const gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_LOG_LEVEL: "warn", FABRIC_SESSIONS_PER_MINUTE: "10000", FABRIC_MAX_SESSIONS_PER_USER: "10000" } });
const rows: Row[] = [];
try {
  for (const sessions of CONCURRENCY_LEVELS) {
    rows.push(await benchRawNats(nats.url, sessions));
    rows.push(await benchFabric(gateway.mcpUrl, nats.url, sessions));
    console.log(formatTable(rows.slice(-2)));
  }
  // The same without the inbox stream (as before issue 19): what keeping every bus message costs.
  const nc = await connect({ servers: nats.url });
  await (await jetstreamManager(nc)).streams.delete(StreamName.Inbox);
  await nc.close();
  for (const sessions of CONCURRENCY_LEVELS) {
    rows.push(await benchFabric(gateway.mcpUrl, nats.url, sessions, " (no FABRIC_INBOX)"));
    console.log(formatTable(rows.slice(-1)));
  }
} catch (error) {
  console.error(`the gateway's last words:\n${gateway.output()}`);
  throw error;
} finally {
  await gateway.stop();
  await nats.stop();
}

const natsVersion = execFileSync(findProgram("nats-server"), ["--version"]).toString().trim();
const report = `# Benchmark: blender_send_message round trips

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${natsVersion}.
One nats-server, one gateway process, and the benchmark process (all MCP sessions and NATS
clients) on the same machine. Each session runs a closed loop for ${PHASE_MS / 1000} s after a
${WARMUP_MS / 1000} s warm-up.

- **fabric**: an MCP session (the SDK's Client over Streamable HTTP) calls
  \`blender_send_message\` with direct routing; the round trip ends when the single receiving
  MCP client gets the \`notifications/message\` on its GET stream. Path: HTTP POST -> gateway
  (auth, KV-backed session, validation, registry read) -> NATS publish -> gateway holding the
  stream -> SSE -> receiver.
- **raw NATS**: \`nc.request()\` to a responder on a plain subject, one connection per session.
- **no FABRIC_INBOX**: the fabric rows again after deleting the inbox stream, so nats-server
  no longer stores each bus message (the durable inboxes of issue 19): what they cost.

${formatTable(rows)}

Reproduce with \`npm run bench\` (BENCH_PHASE_MS sets the phase length).
`;
const reportPath = join(dirname(fileURLToPath(import.meta.url)), "reports", "send-message.md");
writeFileSync(reportPath, report);
console.log(`\nreport written to ${reportPath}`);
