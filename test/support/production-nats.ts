/**
 * The production NATS plane for tests: nats-server running deploy/nats/nats-server.conf with
 * the auth.conf that `blender-fabric nats-setup` makes, credentials minted by the project's
 * own CLI, and connections made with them the way a bridge or an operator connects.
 */
import { execFile } from "node:child_process";
import { copyFile, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { authenticatorFor } from "@blender-fabric/bus";
import { sourceCommand, startNatsServerWithConfig } from "@blender-fabric/testkit";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const run = promisify(execFile);

/** Runs the project's CLI (blender-fabric …); its standard output. */
export async function cli(...args: string[]): Promise<string> {
  const [command, ...rest] = sourceCommand(join(root, "services", "cli", "src", "main.ts"));
  return (await run(command!, [...rest, ...args], { timeout: 60_000 })).stdout;
}

/**
 * `nats-setup` into `dir` (accounts.json, auth.conf, gateway.creds, operator.creds), then one
 * nats-server with the deploy config and no cluster routes, its store under `dir`.
 */
export async function startProductionNats(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  await cli("nats-setup", "--out", dir);
  await copyFile(join(root, "deploy", "nats", "nats-server.conf"), join(dir, "nats-server.conf"));
  await writeFile(join(dir, "cluster.conf"), "# one server: no routes\n");
  return startNatsServerWithConfig(join(dir, "nats-server.conf"), join(dir, "jetstream"));
}

/** A connection with the credential in `credsFile`; no reconnects, so a refusal shows at once. */
export const connectWithCreds = async (url: string, credsFile: string, inboxPrefix?: string): Promise<NatsConnection> =>
  connect({ servers: url, authenticator: await authenticatorFor({ credsFile }), inboxPrefix, reconnect: false, timeout: 3_000 });

/** Resolves to whether `promise` was refused. */
export const refused = (promise: Promise<unknown>) => promise.then(() => false, () => true);
