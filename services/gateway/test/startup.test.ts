// The gateway process as production starts it (services/gateway/src/main.ts through tsx, like
// the supervisor): it refuses to start with no way to verify tokens, or with the old public
// secret, unless FABRIC_DEV_MODE=true, where it makes a random secret of its own; and it warns
// about a nats-server older than 2.10 outside dev mode (this machine's is Debian's 2.9.10).
import type { ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { mintToken, sourceCommand, spawnTracked, startNatsServer, stopChild, waitFor, type NatsServer } from "@blender-fabric/testkit";

const gatewayEntry = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "main.ts");

let nats: NatsServer;
const started: ChildProcess[] = [];
beforeAll(async () => {
  nats = await startNatsServer();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((child) => stopChild(child, "SIGKILL")));
});
afterAll(async () => nats?.stop());

/** This process's environment without any FABRIC_* setting, so only `env` configures the gateway. */
const cleanEnvironment = () => Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("FABRIC_")));

function runGateway(env: Record<string, string>) {
  const [command, ...args] = sourceCommand(gatewayEntry);
  const child = spawnTracked(command!, args, {
    env: { ...cleanEnvironment(), FABRIC_NATS_URL: nats.url, FABRIC_HTTP_PORT: "0", FABRIC_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  /** The MCP URL once it logged that it listens. */
  const listening = async () => {
    await waitFor("the gateway to listen", () => output.includes('"gateway listening"'), 30_000, 50);
    return /"url":"([^"]+)"/u.exec(output)![1]!;
  };
  return { exited, listening, output: () => output };
}

test("without FABRIC_JWT_SECRET or JWKS, outside dev mode, it exits non-zero with one line saying what to set", async () => {
  const gateway = runGateway({});
  expect(await gateway.exited).toBe(1);
  const lines = gateway.output().trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^gateway: refusing to start: no way to verify tokens: set FABRIC_JWT_SECRET \(at least 32 characters/u);
  expect(lines[0]).toContain("FABRIC_JWKS_URL with FABRIC_JWT_ISSUER and FABRIC_JWT_AUDIENCE");
  expect(lines[0]).toContain("FABRIC_DEV_MODE=true");
});

test("the old public dev secret and a short secret are refused, in dev mode too", async () => {
  for (const FABRIC_DEV_MODE of ["false", "true"]) {
    const published = runGateway({ FABRIC_JWT_SECRET: "blender-fabric-dev-secret-change-me", FABRIC_DEV_MODE });
    expect(await published.exited).toBe(1);
    expect(published.output()).toMatch(/^gateway: refusing to start: FABRIC_JWT_SECRET: unusable: it is the old public dev secret/u);
    const short = runGateway({ FABRIC_JWT_SECRET: "sixteen-chars-ok", FABRIC_DEV_MODE });
    expect(await short.exited).toBe(1);
    expect(short.output()).toMatch(/FABRIC_JWT_SECRET: unusable: it has 16 characters, fewer than 32/u);
  }
});

test("dev mode without a secret starts with a random one of its own (warned), which no minted token matches", async () => {
  const gateway = runGateway({ FABRIC_DEV_MODE: "true" });
  const mcpUrl = await gateway.listening();
  expect(gateway.output()).toMatch(/"level":40,.*tokens are verified with a random secret of this process/u);
  // Dev mode is also not warned about the local nats-server: the warning would come before "listening".
  expect(gateway.output()).not.toContain("older than 2.10.0");
  const response = await fetch(mcpUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${await mintToken({ sub: "anyone" })}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
  expect(response.status).toBe(401);
});

test("outside dev mode, a nats-server older than 2.10 is warned about, naming its version and the minimum", async () => {
  const gateway = runGateway({ FABRIC_JWT_SECRET: "s".repeat(32) });
  await gateway.listening();
  const warning = gateway.output().split("\n").find((line) => line.includes("older than"));
  expect(warning).toBeDefined();
  const logged = JSON.parse(warning!) as { level: number; nats_version: string; minimum: string; msg: string };
  expect(logged).toMatchObject({ level: 40, minimum: "2.10.0" });
  expect(logged.nats_version).toMatch(/^2\.9\./u);
  expect(logged.msg).toContain(`nats-server ${logged.nats_version} is older than 2.10.0`);
});
