// D1: a headless Blender never outlives its parent. SIGKILL the process that spawned it, idle
// or with the main thread deep in a long `execute_code` (asleep, or in C code that holds the
// GIL so no Python watcher thread can run), and Blender is gone within 2 s.
// Real processes only. The busy case uses a tiny Node parent of its own that speaks the addon
// socket protocol directly, so it depends on neither the gateway nor the bridge's NATS work
// path; the idle case runs both with that parent and with the real bridge.
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path, { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { findProgram, isProcessGone, spawnTracked, startBridgeProcess, startGatewayProcess, startNatsServer, stopChild, type GatewayProcess, type NatsServer } from "@blender-fabric/testkit";

const headlessScript = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../addon/headless.py");

/** How long an orphaned Blender may live after its parent is killed. ms */
const EXIT_DEADLINE_MS = 2_000;
/** How often the test looks whether Blender is gone. ms */
const POLL_MS = 10;
/** How long the parent may take to start Blender and report it ready. ms */
const PARENT_READY_TIMEOUT_MS = 60_000;
/** Room for the testkit's own 90 s bridge start timeout, whose error carries the bridge's log. ms */
const BRIDGE_TEST_TIMEOUT_MS = 120_000;

/**
 * The parent, run with `node -e`: spawns headless Blender the way the bridge does (stdio pipes,
 * port 0, a token), handshakes over the addon socket, and given `code` sends it as an
 * `execute_code` and proves the main thread is inside it (a ping queued behind it gets no
 * answer). Then it prints `{"blenderPid": …}` and idles until it is killed.
 */
const PARENT_SCRIPT = String.raw`
const { spawn } = require("node:child_process");
const net = require("node:net");
const readline = require("node:readline");
const { blender, headless, code } = JSON.parse(process.argv[1]);
const token = "orphan-test-token";
const BUSY_PROOF_MS = 500;
const fail = (message) => { process.stdout.write(JSON.stringify({ error: message }) + "\n"); process.exit(1); };
const child = spawn(blender, ["-b", "--factory-startup", "--python", headless], {
  env: { ...process.env, FABRIC_ADDON_PORT: "0", FABRIC_ADDON_TOKEN: token, FABRIC_ADDON_PREFS: "{}" },
  stdio: ["pipe", "pipe", "pipe"],
});
child.stderr.resume();
child.once("exit", (code, signal) => fail("Blender exited early: " + (signal || code)));
readline.createInterface({ input: child.stdout }).on("line", (line) => {
  const ready = /^FABRIC_ADDON_READY (\d+)$/.exec(line.trim());
  if (ready) talkTo(Number(ready[1]));
});
function talkTo(port) {
  const socket = net.connect(port, "127.0.0.1");
  const replies = [];
  let waiting;
  readline.createInterface({ input: socket }).on("line", (line) => {
    replies.push(JSON.parse(line));
    if (waiting) waiting();
  });
  const send = (message) => socket.write(JSON.stringify(message) + "\n");
  const nextReply = (timeoutMs) => new Promise((resolve) => {
    const take = () => { waiting = undefined; clearTimeout(timer); resolve(replies.shift()); };
    const timer = setTimeout(() => { waiting = undefined; resolve(undefined); }, timeoutMs);
    if (replies.length) take(); else waiting = take;
  });
  socket.once("connect", async () => {
    send({ type: "hello", token });
    const hello = await nextReply(10000);
    if (!hello || !hello.ok) return fail("hello refused: " + JSON.stringify(hello));
    send({ id: "ping-1", type: "ping" });
    if (!(await nextReply(10000))) return fail("an idle Blender did not answer a ping");
    if (code) {
      send({ id: "busy-1", type: "command", command: "execute_code", params: { code }, job_id: "busy-1" });
      send({ id: "ping-2", type: "ping" });
      const early = await nextReply(BUSY_PROOF_MS);
      if (early) return fail("Blender answered while it should be busy: " + JSON.stringify(early));
    }
    process.stdout.write(JSON.stringify({ blenderPid: hello.pid }) + "\n");
  });
  socket.once("error", (error) => fail("addon socket: " + error.message));
}
`;

type Parent = { child: ChildProcess; blenderPid: number };

/** What the parent's Blender does when the parent is killed: nothing, or this `execute_code`. */
const WORKLOADS = {
  idle: undefined,
  asleep: "import time; time.sleep(60)",
  // sum() over a range loops in C and never lets another thread take the GIL.
  "holding the GIL": "sum(range(10**13))",
} as const;
type Workload = keyof typeof WORKLOADS;

let nats: NatsServer | undefined;
let gateway: GatewayProcess | undefined;
const parents: ChildProcess[] = [];
const blenderPids = new Set<number>();

async function msUntilGone(pid: number, since: number, deadlineMs: number): Promise<number | undefined> {
  while (performance.now() - since <= deadlineMs) {
    if (isProcessGone(pid)) return performance.now() - since;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return isProcessGone(pid) ? performance.now() - since : undefined;
}

/** Starts the `node -e` parent and resolves with its Blender's pid once it reported it. */
async function startParent(workload: Workload): Promise<Parent> {
  const config = JSON.stringify({ blender: findProgram("blender"), headless: headlessScript, code: WORKLOADS[workload] });
  // Tracked: should this test process die first, the parent goes too, and Blender after it.
  const child = spawnTracked(process.execPath, ["-e", PARENT_SCRIPT, config], { stdio: ["ignore", "pipe", "inherit"] });
  parents.push(child);
  const report = await new Promise<{ blenderPid?: number; error?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${workload} parent reported no Blender within ${PARENT_READY_TIMEOUT_MS} ms`)), PARENT_READY_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as { blenderPid?: number; error?: string });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${workload} parent exited with ${code} before it reported Blender`));
    });
  });
  if (!report.blenderPid) throw new Error(`the ${workload} parent failed: ${report.error}`);
  blenderPids.add(report.blenderPid);
  return { child, blenderPid: report.blenderPid };
}

/** SIGKILLs the parent and returns how long its Blender took to be gone. ms */
async function killParentAndTime(parent: Parent): Promise<number | undefined> {
  expect(isProcessGone(parent.blenderPid), "Blender runs before its parent is killed").toBe(false);
  const killedAt = performance.now();
  await stopChild(parent.child, "SIGKILL");
  return msUntilGone(parent.blenderPid, killedAt, EXIT_DEADLINE_MS);
}

/** How the outcome reads in the log: the measured time, or that Blender still ran. */
function describeExit(elapsed: number | undefined): string {
  return elapsed === undefined ? `still running ${EXIT_DEADLINE_MS} ms` : `gone ${elapsed.toFixed(0)} ms`;
}

/** Kills a parent whose Blender runs `workload` and expects Blender gone within the deadline. */
async function expectKilledParentEndsBlender(workload: Workload): Promise<void> {
  const parent = await startParent(workload);
  const elapsed = await killParentAndTime(parent);
  console.info(`${workload} parent: Blender ${parent.blenderPid} ${describeExit(elapsed)} after SIGKILL`);
  expect(elapsed, `Blender ${parent.blenderPid} outlived its parent by more than ${EXIT_DEADLINE_MS} ms`).toBeDefined();
}

test("a bridge whose environment is refused after its Blender started (early, from the raw environment) exits saying why, and its Blender goes too", async () => {
  // Blender is started through a wrapper that writes down its pid, then becomes Blender.
  const folder = await mkdtemp(join(tmpdir(), "fabric-early-"));
  const pidFile = join(folder, "blender.pid");
  const wrapper = join(folder, "blender");
  await writeFile(wrapper, `#!/bin/sh\necho $$ > '${pidFile}'\nexec '${findProgram("blender")}' "$@"\n`, { mode: 0o755 });
  // FABRIC_IDLE_SECONDS is not a Blender-start variable: Blender starts, then the schema refuses it.
  const start = startBridgeProcess({
    natsUrls: [nats!.url],
    user: "orphan",
    uuid: "blender-refused-env",
    env: { FABRIC_BLENDER: wrapper, FABRIC_SANDBOX: "off", FABRIC_IDLE_SECONDS: "-1" },
  });
  await expect(start).rejects.toThrow(/FABRIC_IDLE_SECONDS/);
  const blenderPid = Number((await readFile(pidFile, "utf8")).trim());
  blenderPids.add(blenderPid);
  const elapsed = await msUntilGone(blenderPid, performance.now(), EXIT_DEADLINE_MS);
  expect(elapsed, `the early Blender ${blenderPid} outlived its refused bridge`).toBeDefined();
  await rm(folder, { recursive: true, force: true });
});

beforeAll(async () => {
  findProgram("blender"); // a missing Blender fails this file, it never skips
  nats = await startNatsServer();
});

afterAll(async () => {
  await Promise.allSettled(parents.map((parent) => stopChild(parent, "SIGKILL")));
  const survivors = [...blenderPids].filter((pid) => !isProcessGone(pid));
  for (const pid of survivors) process.kill(pid, "SIGKILL");
  await gateway?.stop();
  await nats?.stop();
  expect(survivors, "no Blender may outlive this file").toEqual([]);
});

test("kill -9 an idle parent: its Blender pid is gone within 2 s", () => expectKilledParentEndsBlender("idle"));

test("kill -9 a busy parent (execute_code `import time; time.sleep(60)`): its Blender pid is gone within 2 s", () =>
  expectKilledParentEndsBlender("asleep"));

test("kill -9 a parent whose Blender holds the GIL in C (execute_code `sum(range(10**13))`): its Blender pid is gone within 2 s", () =>
  expectKilledParentEndsBlender("holding the GIL"));

test("kill -9 an idle bridge: its Blender pid is gone within 2 s", async () => {
  // A bridge is ready once registered, which it does through the peer API of a gateway.
  gateway = await startGatewayProcess({ natsUrls: [nats!.url] });
  const bridge = await startBridgeProcess({ natsUrls: [nats!.url], user: "orphan", uuid: "blender-orphan-idle" });
  const blenderPid = bridge.blenderPid();
  blenderPids.add(blenderPid);
  expect(isProcessGone(blenderPid), "Blender runs before its bridge is killed").toBe(false);
  const killedAt = performance.now();
  await bridge.kill();
  const elapsed = await msUntilGone(blenderPid, killedAt, EXIT_DEADLINE_MS);
  console.info(`idle bridge: Blender ${blenderPid} ${describeExit(elapsed)} after SIGKILL`);
  expect(elapsed, `Blender ${blenderPid} outlived its bridge by more than ${EXIT_DEADLINE_MS} ms`).toBeDefined();
}, BRIDGE_TEST_TIMEOUT_MS);
