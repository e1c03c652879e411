// Issue 17: Ctrl-C of `npm start` stops everything it started, every time, even with MCP calls
// in flight, and the next start gets the same NATS port. `npm start` runs here exactly as in a
// terminal: its own process group, and SIGINT to the whole group at once (npm, sh, tsx's CLI,
// up, the gateway, the pool, the bridges), with calls to the warm Blender in flight. Every
// other try also runs a project's Blender and presses Ctrl-C a second time while the fabric
// stops: at once (a key bounce, or tsx's copy of the first), or later, while that Blender
// finishes its job to save its scene (an impatient user: stop at once). What is left is read
// from /proc, not from logs.
import { randomUUID } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";
import { FabricTestClient, findFreePort, findProgram, processStat, waitFor } from "@blender-fabric/testkit";
import { processStartTime } from "@blender-fabric/supervisor";
import { descendantsOf } from "../support/processes.js";

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TRIES = 10;
/** Before this try, a nats-server is left running on the data folder, as a run killed -9 leaves it. */
const TRY_AFTER_LEFTOVER = 3;
/** When the second Ctrl-C of a try comes, after the first: none on odd tries, else 1.5 s or 0.1 s in turn. ms */
const secondCtrlCAfterMs = (attempt: number) => (attempt % 2 === 1 ? undefined : attempt % 4 === 2 ? 1_500 : 100);
/** A project's job runs this long: a project's Blender finishes its job before it saves, so its stop lasts as long. Seconds */
const PROJECT_JOB_SECONDS = 4;
/**
 * How long the processes of a run may take to be gone after `npm start` itself exited: the
 * stop guard may still be stopping them in order (a project's Blender saves its scene). ms
 */
const GONE_AFTER_EXIT_MS = 60_000;

const dataDirectory = mkdtempSync(join(tmpdir(), "fabric-ctrl-c-"));
/** The environment variable every process of one run inherits from `npm start`. */
const MARKER_VARIABLE = "FABRIC_CTRL_C_RUN";

afterAll(() => {
  // A failed try's leftovers must not outlive the test either.
  for (const pid of processesOfRun("", new Map())) process.kill(pid, "SIGKILL");
  rmSync(dataDirectory, { recursive: true, force: true });
});

function read(pid: number, what: "cmdline" | "environ"): string {
  try {
    return readFileSync(`/proc/${pid}/${what}`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/**
 * The living processes of a run: those it had started when Ctrl-C came (pid → start time), and
 * any that carries the run's marker in its environment or the data folder on its command line,
 * wherever it is in the process tree now (a leftover's parent is init).
 */
function processesOfRun(marker: string, before: Map<number, string>): number[] {
  const living = new Set<number>();
  for (const [pid, startTime] of before) if (processStartTime(pid) === startTime) living.add(pid);
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!/^\d+$/u.test(name) || pid === process.pid || processStartTime(pid) === undefined) continue;
    if (read(pid, "environ").includes(`${MARKER_VARIABLE}=${marker}`) || read(pid, "cmdline").includes(dataDirectory)) living.add(pid);
  }
  return [...living];
}

const describeProcess = (pid: number) => `${pid} (parent ${processStat(pid)?.parent}): ${read(pid, "cmdline").slice(0, 160)}`;

type Run = { npm: ChildProcess; marker: string; printed: () => string; exited: Promise<void> };

function startFabric(natsPort: number, httpPort: number): Run {
  const marker = randomUUID();
  const args = ["start", "--", "--data-dir", dataDirectory, "--nats-port", String(natsPort), "--http-port", String(httpPort), "--max-peers", "2"];
  const npm = spawn("npm", args, {
    cwd: repositoryRoot,
    env: { ...process.env, [MARKER_VARIABLE]: marker, FABRIC_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, like a shell's foreground job.
    detached: true,
  });
  let printed = "";
  const collect = (chunk: Buffer) => (printed = (printed + chunk.toString()).slice(-100_000));
  npm.stdout!.on("data", collect);
  npm.stderr!.on("data", collect);
  const exited = new Promise<void>((resolve) => npm.once("exit", () => resolve()));
  return { npm, marker, printed: () => printed, exited };
}

/** Calls in flight until the fabric goes away: the warm Blender's, and `withProject` a project's, whose Blender starts on demand. */
function startLoad(client: FabricTestClient, withProject: boolean) {
  let stopped = false;
  const answers = { warm: 0, project: 0 };
  const loop = async (call: () => Promise<unknown>, peer: keyof typeof answers) => {
    while (!stopped) {
      await call().then(
        () => (answers[peer] += 1),
        () => (stopped = true), // the fabric is stopping
      );
    }
  };
  const done = Promise.all([
    loop(() => client.dispatch("blender_get_scene_info"), "warm"),
    loop(() => client.dispatch("blender_get_scene_info"), "warm"),
    loop(() => client.dispatch("blender_execute_code", { code: "import time\ntime.sleep(0.2)" }), "warm"),
    withProject && loop(() => client.dispatch("blender_execute_code", { target_uuid: "project:ctrl-c", code: `import time\nbpy.ops.mesh.primitive_cube_add()\ntime.sleep(${PROJECT_JOB_SECONDS})` }), "project"),
  ]);
  return { answers, done };
}

/** A nats-server on the run's own configuration, not stopped by anyone: what a run killed -9 leaves. */
async function leaveNatsServerRunning(): Promise<number> {
  const pidFile = join(dataDirectory, "nats", "nats-server.pid");
  const leftover = spawn(findProgram("nats-server"), ["-c", join(dataDirectory, "nats", "server.conf")], { stdio: "ignore", detached: true });
  leftover.unref();
  await waitFor("the leftover nats-server to write its pid", () => read(leftover.pid!, "cmdline") !== "" && readFileSync(pidFile, "utf8").trim() === String(leftover.pid), 10_000, 50);
  return leftover.pid!;
}

test(`Ctrl-C of npm start with calls in flight leaves no process behind, ${TRIES} of ${TRIES} times, and NATS keeps its port`, async () => {
  const natsPort = await findFreePort();
  const httpPort = await findFreePort();
  const failures: string[] = [];
  for (let attempt = 1; attempt <= TRIES; attempt += 1) {
    const secondAfterMs = secondCtrlCAfterMs(attempt);
    const leftover = attempt === TRY_AFTER_LEFTOVER ? await leaveNatsServerRunning() : undefined;
    const run = startFabric(natsPort, httpPort);
    await waitFor(`npm start (try ${attempt}) to print its guide`, () => run.printed().includes("Press Ctrl-C to stop.") || run.npm.exitCode !== null, 150_000, 100);
    expect(run.printed(), run.printed()).toContain("Press Ctrl-C to stop.");
    // A server left by an earlier run would hold the port, and this start would move NATS.
    const natsUrl = /NATS\s+(\S+)/u.exec(run.printed())![1];
    if (natsUrl !== `nats://127.0.0.1:${natsPort}`) failures.push(`try ${attempt}${leftover ? " (after a leftover nats-server)" : ""}: NATS moved to ${natsUrl} from port ${natsPort}`);
    if (leftover && processStartTime(leftover) !== undefined) failures.push(`try ${attempt}: the leftover nats-server ${leftover} still runs`);
    const mcpUrl = /MCP endpoint\s+(\S+)/u.exec(run.printed())![1]!;
    const token = /valid 30 days:\s+(\S+)/u.exec(run.printed())![1]!;
    const client = await FabricTestClient.connect({ mcpUrls: [mcpUrl], token, name: `ctrl-c-${attempt}` });
    // With a second Ctrl-C, a project's Blender runs its next job, which it finishes before it saves.
    const withProject = secondAfterMs !== undefined;
    const load = startLoad(client, withProject);
    await waitFor("answers under load", () => load.answers.warm >= 3 && (!withProject || load.answers.project >= 1), 60_000, 20);
    // A second Ctrl-C must come while the stop still waits for the project's running job: the
    // next job (4 s) is well under way a second after the last answer.
    if (withProject) await new Promise((resolve) => setTimeout(resolve, 1_000));

    const started = new Map(descendantsOf(run.npm.pid!).map((pid) => [pid, processStartTime(pid)!] as const));
    const commandLines = [...started.keys()].map((pid) => read(pid, "cmdline"));
    for (const program of ["nats-server", "services/gateway/", "services/pool/", "services/bridge/", "blender -b"]) {
      expect(commandLines.some((line) => line.includes(program)), `${program} runs when Ctrl-C comes:\n${commandLines.join("\n")}`).toBe(true);
    }
    process.kill(-run.npm.pid!, "SIGINT"); // what a terminal does: SIGINT to every process of the group
    if (secondAfterMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, secondAfterMs));
      // A second Ctrl-C after the stop ended would prove nothing.
      try {
        process.kill(-run.npm.pid!, "SIGINT");
      } catch {
        failures.push(`try ${attempt}: the fabric had stopped before the second Ctrl-C`);
      }
    }
    await run.exited;
    await client.close().catch(() => {});
    await load.done;
    const gone = await waitFor("every process of the run to end", () => processesOfRun(run.marker, started).length === 0, GONE_AFTER_EXIT_MS, 100).then(
      () => true,
      () => false,
    );
    if (!gone) {
      const left = processesOfRun(run.marker, started);
      failures.push(`try ${attempt}${secondAfterMs === undefined ? "" : ` (Ctrl-C again after ${secondAfterMs} ms)`}: left\n  ${left.map(describeProcess).join("\n  ")}`);
      // The next try must start clean, or it would only measure this leftover.
      for (const pid of left) process.kill(pid, "SIGKILL");
      await waitFor("the leftovers to be killed", () => processesOfRun(run.marker, started).length === 0, 10_000, 100);
    }
  }
  expect(failures).toEqual([]);
}, 900_000);
