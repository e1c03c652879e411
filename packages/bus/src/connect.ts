/** One NATS connection per process, configured to ride out server restarts and failovers. */
import { connect, type Authenticator, type NatsConnection } from "@nats-io/transport-node";
import { authenticatorFor, type NatsCredentialFiles } from "./nats-credentials.js";

export type FabricConnectionOptions = {
  /** One or more `nats://host:port` URLs; several let the client fail over inside a cluster. */
  servers: string | string[];
  /** Connection name shown by `nats server report connections`. */
  name: string;
  /** The process's NATS credential (nats-credentials.ts). */
  credentials?: NatsCredentialFiles;
  /** Or an authenticator of its own (a bridge's renewed, minted credential); wins. */
  authenticator?: Authenticator;
  /** Where replies to its requests go; a tenant's peers use their own (nats-permissions.ts). */
  inboxPrefix?: string;
};

export async function connectToFabric(options: FabricConnectionOptions): Promise<NatsConnection> {
  return connect({
    servers: options.servers,
    name: options.name,
    authenticator: options.authenticator ?? (await authenticatorFor(options.credentials ?? {})),
    inboxPrefix: options.inboxPrefix,
    // Gateways and bridges are long-lived: never give up reconnecting, and retry quickly
    // so a killed cluster node costs well under a second.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250, // ms
    reconnectJitter: 100, // ms
    pingInterval: 5_000, // ms
    waitOnFirstConnect: true,
    // Every request would otherwise build an Error up front for its stack trace: on the
    // dispatch path that was a tenth of the gateway's CPU. Errors still say what failed.
    noAsyncTraces: true,
  });
}
