#!/usr/bin/env node
/** The `blender-fabric` command. Argument parsing by commander. */
import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { mintToken, ROLES } from "@blender-fabric/auth";
import { PROJECT_ID_RULE, consumerForGroup, consumerForUserFarm, isValidProjectId } from "@blender-fabric/protocol";
import { runPool, up } from "./up.js";
import { findJwtSecret } from "./jwt-secret.js";
import { printClients, printJobs, tailTraffic } from "./operator-commands.js";
import { renderCommand } from "./render-command.js";
import { controlJob, type FarmAction } from "./job-control-commands.js";
import { mintPeerCreds, natsSetup } from "./nats-credentials-commands.js";

const port = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new InvalidArgumentError("expected a port number");
  }
  return parsed;
};

const projectId = (value: string) => {
  if (!isValidProjectId(value)) throw new InvalidArgumentError(PROJECT_ID_RULE);
  return value;
};

const positiveNumber = (value: string) => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError("expected a positive number");
  return parsed;
};

const program = new Command("blender-fabric").description(
  "A NATS-backed message fabric that lets many LLM sessions drive many Blender instances.",
);

program
  .command("up")
  .description("start a local fabric: embedded NATS with JetStream, one gateway, the peer pool with one warm headless Blender")
  .option("--data-dir <path>", "where NATS keeps its data", ".fabric")
  .option("--nats-port <port>", "preferred NATS client port", port, 4222)
  .option("--http-port <port>", "preferred gateway HTTP port", port, 8080)
  .option("--user <id>", "user id of the printed dev token", "dev")
  .option("--blender-uuid <prefix>", "bus uuid prefix of the warm headless Blender (it is <prefix>-1)", "blender-local")
  .option("--idle <seconds>", "a project's Blender exits after this long idle", positiveNumber, 60)
  .option("--max-peers <n>", "most Blender peers at once, the warm one included", positiveNumber, 4)
  .action(async (options: { dataDir: string; natsPort: number; httpPort: number; user: string; blenderUuid: string; idle: number; maxPeers: number }) => {
    await up({
      dataDirectory: resolve(options.dataDir),
      natsPort: options.natsPort,
      httpPort: options.httpPort,
      user: options.user,
      blenderUuid: options.blenderUuid,
      idleSeconds: options.idle,
      maxPeers: options.maxPeers,
    });
  });

program
  .command("pool")
  .description("run the peer pool: Blender peers started when work waits for a project or farm group, gone when idle (FABRIC_POOL_* settings)")
  .option("--nats <urls>", "NATS servers, comma-separated (FABRIC_NATS_URL)", process.env.FABRIC_NATS_URL ?? "nats://127.0.0.1:4222")
  .action(async (options: { nats: string }) => runPool(options.nats.split(",")));

program
  .command("token")
  .description("print a bearer token signed with FABRIC_JWT_SECRET, or else the local fabric's secret (<data-dir>/jwt-secret, made by up)")
  .requiredOption("--user <id>", "the user id (JWT sub)")
  .option("--role <role>", `one of ${ROLES.join(", ")}`)
  .option("--expires <span>", "lifetime, e.g. 1h, 30d", "30d")
  .option("--data-dir <path>", "the local fabric's data directory (as for up)", ".fabric")
  .action(async (options: { user: string; role?: (typeof ROLES)[number]; expires: string; dataDir: string }) => {
    if (options.role && !ROLES.includes(options.role)) {
      throw new InvalidArgumentError(`--role must be one of ${ROLES.join(", ")}`);
    }
    const secret = await findJwtSecret(resolve(options.dataDir));
    const token = await mintToken({ sub: options.user, role: options.role }, { expiresIn: options.expires, secret });
    process.stdout.write(`${token}\n`);
  });

const gatewayUrl = process.env.FABRIC_URL ?? "http://127.0.0.1:8080/mcp";
const positive = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("expected a positive whole number");
  return parsed;
};

program
  .command("clients")
  .description("the clients on your bus (as blender_list_available_clients sees them)")
  .option("--url <url>", "gateway MCP endpoint (FABRIC_URL)", gatewayUrl)
  .option("--token <jwt>", "bearer token (FABRIC_TOKEN)")
  .option("--all", "include stale clients", false)
  .action(async (options: { url: string; token?: string; all: boolean }) => printClients(options));

program
  .command("jobs")
  .description("your newest jobs; --watch redraws every second")
  .option("--url <url>", "gateway MCP endpoint (FABRIC_URL)", gatewayUrl)
  .option("--token <jwt>", "bearer token (FABRIC_TOKEN)")
  .option("--status <status>", "only jobs with this status")
  .option("--limit <n>", "how many", positive, 20)
  .option("--watch", "redraw every second until Ctrl-C", false)
  .option("--attempts", "also list farm attempts (each a job of its own)", false)
  .action(async (options: { url: string; token?: string; status?: string; limit: number; watch: boolean; attempts: boolean }) => printJobs(options));

program
  .command("tail")
  .description("a readable live view of one user's bus traffic, without the nats CLI")
  .option("--nats <urls>", "NATS servers, comma-separated (FABRIC_NATS_URL)", process.env.FABRIC_NATS_URL ?? "nats://127.0.0.1:4222")
  .requiredOption("--user <id>", "whose traffic (the user id, JWT sub)")
  .option("--nkey <file>", "NATS nkey seed file, e.g. .fabric/credentials/operator.nk (FABRIC_NATS_NKEY)", process.env.FABRIC_NATS_NKEY)
  .option("--creds <file>", "NATS .creds file (FABRIC_NATS_CREDS)", process.env.FABRIC_NATS_CREDS)
  .action(async (options: { nats: string; user: string; nkey?: string; creds?: string }) => tailTraffic(options));

/** "30d", "12h", "90m", "3600s" or plain seconds. */
const duration = (value: string) => {
  const match = /^(\d+)([smhd]?)$/.exec(value);
  if (!match) throw new InvalidArgumentError("expected a duration like 30d, 12h, 90m or 3600");
  return Number(match[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "" | "s" | "m" | "h" | "d"];
};

program
  .command("nats-setup")
  .description("make the production NATS plane's operator, accounts, server auth.conf, gateway and operations credentials")
  .requiredOption("--out <dir>", "where to write them (keep accounts.json secret)")
  .action(async (options: { out: string }) => natsSetup(options));

program
  .command("nats-creds")
  .description("mint one peer's NATS credential: only its tenant, its uuid's work, its group's farm tasks")
  .requiredOption("--accounts <file>", "accounts.json from nats-setup")
  .requiredOption("--user <id>", "the peer's tenant (FABRIC_USER)")
  .requiredOption("--uuid <uuid>", "the peer's uuid (FABRIC_CLIENT_UUID)")
  .option("--group <id>", "its farm group (FABRIC_GROUP_ID)")
  .option("--project <id>", "the project it serves (FABRIC_PROJECT_ID)", projectId)
  .option("--no-farm-worker", "it does not take farm tasks that name no group (an artist's Blender)")
  .option("--expires <span>", "lifetime, e.g. 30d, 12h", duration, 30 * 86400)
  .requiredOption("--out <file>", "the .creds file to write (mode 0600)")
  .action(async (options: { accounts: string; user: string; uuid: string; group?: string; project?: string; farmWorker: boolean; expires: number; out: string }) =>
    mintPeerCreds(options),
  );

program
  .command("consumer-name")
  .description("the FABRIC_WORK consumer of a group's farm tasks (what KEDA's nats-jetstream scaler watches)")
  .requiredOption("--user <id>", "the tenant")
  .option("--group <id>", "the group; without it, the tenant's farm pool")
  .option("--priority <priority>", "high, normal or low", "normal")
  .action((options: { user: string; group?: string; priority: string }) => {
    const name = options.group ? consumerForGroup(options.user, options.group, options.priority) : consumerForUserFarm(options.user, options.priority);
    process.stdout.write(`${name}\n`);
  });

const resolution = (value: string) => {
  const match = /^(\d+)x(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError("expected WIDTHxHEIGHT, e.g. 1920x1080");
  return { x: Number(match[1]), y: Number(match[2]) };
};

program
  .command("render <blend>")
  .description("render frames of a .blend on a farm group: upload, submit, follow, download every frame")
  .requiredOption("--frames <list>", 'frames, e.g. "1-250" or "1-100,120" or "1-100x5"')
  .option("--group <id>", "the farm group whose peers render (default: any of your farm workers)")
  .option("--chunk <n>", "frames per task", positive, 5)
  .option("--out <dir>", "where the frames are written", "./frames")
  .option("--capabilities <list>", "only peers with all of these, comma-separated (e.g. gpu)", "")
  .option("--engine <engine>", "cycles, eevee or workbench (default: the scene's)")
  .option("--samples <n>", "render samples (default: the scene's)", positive)
  .option("--resolution <WxH>", "e.g. 1920x1080 (default: the scene's)", resolution)
  .option("--percentage <n>", "resolution percentage", positive)
  .option("--format <format>", "png, jpeg or exr", "png")
  .option("--max-attempts <n>", "attempts per task", positive, 3)
  .addOption(new Option("--priority <priority>", "idle peers take higher-priority farm jobs first").choices(["high", "normal", "low"]).default("normal"))
  .option("--preview-first", "render the first, last and middle frames first, to judge the shot early", false)
  .option("--preview-video", "when every frame is rendered, also make preview.mp4 (and download it)", false)
  .option("--owner-timeout <seconds>", "the job expires if this command stops following it this long before any task started", positive, 60)
  .option("--url <url>", "gateway MCP endpoint (FABRIC_URL)", gatewayUrl)
  .option("--token <jwt>", "bearer token (FABRIC_TOKEN)")
  .action(async (blend: string, options: Omit<Parameters<typeof renderCommand>[0], "blend" | "capabilities"> & { capabilities: string }) => {
    const capabilities = options.capabilities.split(",").map((item) => item.trim()).filter(Boolean);
    process.exitCode = await renderCommand({ ...options, blend, capabilities });
  });

/** `cancel`, `pause`, `resume`, `requeue`: a job's controls, each `<job>` with the gateway options. */
const controls: [name: string, action: FarmAction | "cancel", description: string][] = [
  ["cancel", "cancel", "cancel a job: nothing queued starts, running scripts stop at their next progress report"],
  ["pause", "pause", "pause a farm job: no task starts a new attempt, running ones finish"],
  ["resume", "resume", "resume a paused farm job"],
  ["requeue", "requeue_failed", "give a farm job's failed tasks more attempts and clear its blocklist (a failed job runs again)"],
];
for (const [name, action, description] of controls) {
  program
    .command(`${name} <job>`)
    .description(description)
    .option("--url <url>", "gateway MCP endpoint (FABRIC_URL)", gatewayUrl)
    .option("--token <jwt>", "bearer token (FABRIC_TOKEN)")
    .action(async (jobId: string, options: { url: string; token?: string }) => {
      process.exitCode = await controlJob({ ...options, jobId, action });
    });
}

program
  .command("priority <job> <priority>")
  .description("move a farm job's waiting tasks to another priority (high, normal, low)")
  .option("--url <url>", "gateway MCP endpoint (FABRIC_URL)", gatewayUrl)
  .option("--token <jwt>", "bearer token (FABRIC_TOKEN)")
  .action(async (jobId: string, priority: string, options: { url: string; token?: string }) => {
    if (!["high", "normal", "low"].includes(priority)) throw new InvalidArgumentError(`priority: expected high, normal or low, not ${priority}`);
    process.exitCode = await controlJob({ ...options, jobId, action: "set_priority", priority });
  });

try {
  await program.parseAsync();
} catch (error) {
  // One line, not a stack trace: a refused token or an unreachable gateway is the operator's news.
  process.stderr.write(`blender-fabric: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
