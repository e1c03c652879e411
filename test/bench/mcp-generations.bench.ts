/**
 * Benchmark (issue 19): `blender_send_message` calls through the gateway against a bare SDK
 * server with the same tool surface, for each MCP generation, at 1 and 16 concurrent
 * sessions, in the same run on the same machine.
 *
 * - 2025-11-25: the SDK 1.x client with a session. Bare: SDK 1.x McpServer, stateless, a new
 *   server and 39 registered tools per request (bare-mcp-server.ts). Gateway: auth, the KV
 *   session, validation, registry read, NATS publish.
 * - 2026-07-28: the SDK 2.x client pinned to 2026-07-28. Bare: SDK 2.x createMcpHandler, a
 *   new server and 39 registered tools per request. Gateway: auth, the 2026 checks,
 *   validation, registry read, NATS publish; no session.
 *
 * A round trip is one tools/call answered (delivery to a receiver is send-message.bench.ts).
 * Also measured, in this process: what building a server per request costs (the SDK's
 * McpServer with the 39 tools registered, v1 and v2, against the gateway's per-request
 * low-level Server over a catalog built once).
 *
 * Run with `npm run bench`. Prints tables and writes test/bench/reports/mcp-generations.md.
 * Nothing here asserts a timing.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer as McpServerV1 } from "@modelcontextprotocol/sdk/server/mcp.js";
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { McpServer as McpServerV2 } from "@modelcontextprotocol/server";
import { findProgram, mintToken, startGatewayProcess, startNatsServer } from "@blender-fabric/testkit";
import { closedLoops, summarize, type Summary } from "./stats.js";
import { fabricToolDefinitions, registerFabricTools } from "./tool-surface.js";
import { createToolCatalog } from "../../services/gateway/src/mcp/tool-catalog.js";
import { createMcpServer } from "../../services/gateway/src/mcp/create-mcp-server.js";

const here = dirname(fileURLToPath(import.meta.url));
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 8_000);
const WARMUP_MS = 1_500;
const SESSIONS = [1, 16];
const GENERATIONS = ["2025-11-25", "2026-07-28"] as const;
type Generation = (typeof GENERATIONS)[number];

type Row = { generation: Generation; server: "bare SDK" | "gateway"; sessions: number } & Summary;

type Caller = { call(id: string): Promise<void>; close(): Promise<void> };

async function connectCaller(generation: Generation, url: string, token: string | undefined, index: number): Promise<Caller> {
  const requestInit = token ? { headers: { authorization: `Bearer ${token}` } } : undefined;
  const args = (id: string) => ({ name: "blender_send_message", arguments: { target_uuid: "bench-receiver", payload: { id } } });
  if (generation === "2025-11-25") {
    const client = new ClientV1({ name: `bench-${index}`, version: "1.0.0" });
    await client.connect(new TransportV1(new URL(url), { requestInit }));
    return { call: async (id) => void (await client.callTool(args(id))), close: () => client.close() };
  }
  const client = new ClientV2({ name: `bench-${index}`, version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
  await client.connect(new TransportV2(new URL(url), { requestInit }));
  return { call: async (id) => void (await client.callTool(args(id))), close: () => client.close() };
}

async function measure(generation: Generation, server: Row["server"], url: string, token: string | undefined, sessions: number): Promise<Row> {
  const callers = await Promise.all(Array.from({ length: sessions }, (_, index) => connectCaller(generation, url, token, index)));
  let sequence = 0;
  const roundTrip = (session: number) => callers[session]!.call(`${session}-${(sequence += 1)}`);
  await closedLoops(sessions, WARMUP_MS, roundTrip);
  const { latencies, elapsedMs } = await closedLoops(sessions, PHASE_MS, roundTrip);
  await Promise.all(callers.map((caller) => caller.close()));
  return { generation, server, sessions, ...summarize(latencies, elapsedMs) };
}

async function startBare(generation: Generation): Promise<{ url: string; process: ChildProcess }> {
  const child = spawn(process.execPath, ["--conditions=fabric-source", "--import", "tsx", join(here, "bare-mcp-server.ts"), generation.slice(0, 4)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      const match = /listening (\S+)/u.exec(chunk.toString());
      if (match) resolve(match[1]!);
    });
    child.on("exit", (code) => reject(new Error(`bare server exited ${code}`)));
  });
  return { url, process: child };
}

/** Mean microseconds of `build` over `rounds`, after a warm-up. */
function microseconds(rounds: number, build: () => unknown): number {
  for (let index = 0; index < 20; index += 1) build();
  const started = performance.now();
  for (let index = 0; index < rounds; index += 1) build();
  return ((performance.now() - started) / rounds) * 1000;
}

function perRequestCosts() {
  const definitions = fabricToolDefinitions();
  const register = <Server extends { registerTool: unknown }>(server: Server) => registerFabricTools(server, () => ({ content: [] }));
  const catalog = createToolCatalog(definitions);
  const fakeContext = {} as never;
  const fakeDependencies = { catalog, metrics: {} as never, logger: {} as never };
  return [
    { what: "SDK 1.x McpServer, empty", us: microseconds(500, () => new McpServerV1({ name: "b", version: "1" })) },
    { what: `SDK 1.x McpServer + ${definitions.length} registerTool`, us: microseconds(200, () => register(new McpServerV1({ name: "b", version: "1" }))) },
    { what: "SDK 2.x McpServer, empty", us: microseconds(500, () => new McpServerV2({ name: "b", version: "1" })) },
    { what: `SDK 2.x McpServer + ${definitions.length} registerTool`, us: microseconds(200, () => register(new McpServerV2({ name: "b", version: "1" }))) },
    { what: "gateway: low-level Server per request (2025 path; catalog built once)", us: microseconds(500, () => createMcpServer(fakeDependencies, fakeContext)) },
    { what: "gateway: the catalog with its JSON schemas (once per process)", us: microseconds(20, () => createToolCatalog(definitions)) },
    { what: "gateway 2026 path: nothing is built per request", us: 0 },
  ];
}

const table = (rows: Row[]) =>
  [
    "| generation | server | sessions | calls | p50 ms | p99 ms | calls/s | gateway ÷ bare |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map((row) => {
      const bare = rows.find((other) => other.generation === row.generation && other.sessions === row.sessions && other.server === "bare SDK");
      const ratio = row.server === "gateway" && bare ? `${(row.throughput / bare.throughput).toFixed(2)}x` : "";
      return `| ${row.generation} | ${row.server} | ${row.sessions} | ${row.count} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.throughput.toFixed(0)} | ${ratio} |`;
    }),
  ].join("\n");

const costs = perRequestCosts();
const costTable = ["| what is built | µs each |", "|---|---:|", ...costs.map((cost) => `| ${cost.what} | ${cost.us.toFixed(0)} |`)].join("\n");
console.log(costTable);

const nats = await startNatsServer();
const gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_LOG_LEVEL: "warn", FABRIC_SESSIONS_PER_MINUTE: "10000", FABRIC_MAX_SESSIONS_PER_USER: "10000" } });
const token = await mintToken({ sub: "bench" });
const rows: Row[] = [];
try {
  // The receiver exists, so the gateway resolves and publishes to a registered client.
  const registrar = new ClientV1({ name: "registrar", version: "1" });
  await registrar.connect(new TransportV1(new URL(gateway.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  await registrar.callTool({ name: "blender_register_client", arguments: { client_uuid: "bench-receiver", client_type: "llm", is_persistent: true } });
  await registrar.close();
  for (const generation of GENERATIONS) {
    const bare = await startBare(generation);
    try {
      for (const sessions of SESSIONS) {
        rows.push(await measure(generation, "bare SDK", bare.url, undefined, sessions));
        rows.push(await measure(generation, "gateway", gateway.mcpUrl, token, sessions));
        console.log(table(rows.filter((row) => row.generation === generation && row.sessions === sessions)));
      }
    } finally {
      bare.process.kill("SIGTERM");
    }
  }
} finally {
  await gateway.stop();
  await nats.stop();
}

const natsVersion = execFileSync(findProgram("nats-server"), ["--version"]).toString().trim();
const report = `# Benchmark: the two MCP generations, gateway against a bare SDK server

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${natsVersion}.
One nats-server, one gateway process, one bare server process and the benchmark process
(every client) on the same machine. Each session runs a closed loop of
\`blender_send_message\` calls for ${PHASE_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up;
a call is done when its answer arrives.

- **bare SDK**: the fabric's ${fabricToolDefinitions().length} tools (same names, descriptions, zod schemas) on the SDK's
  documented stateless server: a new server per request with every tool registered.
  \`blender_send_message\` answers at once; no auth, no KV, no NATS. 2025: SDK 1.x McpServer
  and Streamable HTTP transport; 2026: SDK 2.x \`createMcpHandler\`.
- **gateway**: the real thing: bearer JWT, the 2025 session in KV (2025) or the 2026 checks
  (2026), argument validation, the registry, a NATS publish of the envelope.

${table(rows)}

## What a server per request costs

Measured in the benchmark process; a stateless MCP server builds one per request.

${costTable}

Reproduce with \`npm run bench\` (BENCH_PHASE_MS sets the phase length).
`;
const reportPath = join(here, "reports", "mcp-generations.md");
writeFileSync(reportPath, report);
console.log(`\nreport written to ${reportPath}`);
