/**
 * A whole local fabric for an end-to-end test file: a real nats-server (or 3-node cluster),
 * N gateway replica processes, a raw NATS connection for watching traffic, and MCP clients
 * whose requests rotate across the replicas.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { authenticatorFor } from "@blender-fabric/bus";
import {
  FabricTestClient,
  mintToken,
  startGatewayProcess,
  startNatsCluster,
  startNatsServer,
  type GatewayProcess,
  type NatsNode,
} from "@blender-fabric/testkit";

export type Fabric = AsyncDisposable & {
  natsUrls: string[];
  /** The nats-server processes: one, or the three cluster nodes. */
  natsNodes: NatsNode[];
  gateways: GatewayProcess[];
  /** A raw connection, e.g. to watch `user.>` like an operator with the nats CLI. */
  nc: NatsConnection;
  /** An MCP session of `userId` whose requests alternate over `replicas` (default: all). */
  connect(userId: string, replicas?: GatewayProcess[]): Promise<FabricTestClient>;
  /** Connects and waits until a replica holds the session's notification stream. */
  connectListening(userId: string, replicas?: GatewayProcess[]): Promise<FabricTestClient>;
  addGateway(): Promise<GatewayProcess>;
};

export type FabricOptions = {
  gateways?: number;
  /** Three nats-server nodes with R3 buckets instead of one server. */
  cluster?: boolean;
  gatewayEnv?: Record<string, string>;
  /**
   * NATS with authentication: the servers' auth settings, and the credential file the
   * gateways and this test's own connection use. Default: an open private server.
   */
  natsAuth?: { authConfig: string; credsFile: string };
};

export async function startFabric(options: FabricOptions = {}): Promise<Fabric> {
  const auth = options.natsAuth;
  const authenticator = auth ? await authenticatorFor({ credsFile: auth.credsFile }) : undefined;
  const cluster = options.cluster ? await startNatsCluster(3, { authConfig: auth?.authConfig, authenticator }) : undefined;
  const single = cluster ? undefined : await startNatsServer({ authConfig: auth?.authConfig });
  const natsUrls = cluster ? cluster.urls : [single!.url];
  const env = { ...(cluster ? { FABRIC_KV_REPLICAS: "3" } : {}), ...(auth ? { FABRIC_NATS_CREDS: auth.credsFile } : {}), ...options.gatewayEnv };
  const addGateway = () => startGatewayProcess({ natsUrls, env });
  const gateways: GatewayProcess[] = [];
  const clients: FabricTestClient[] = [];
  let nc: NatsConnection | undefined;

  const stop = async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await nc?.close().catch(() => {});
    await Promise.allSettled(gateways.map((gateway) => gateway.stop()));
    await (cluster ? cluster.stop() : single!.stop());
  };

  try {
    // One at a time: the first creates the buckets, the rest bind to them.
    for (let index = 0; index < (options.gateways ?? 2); index += 1) gateways.push(await addGateway());
    nc = await connect({ servers: natsUrls, authenticator, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  } catch (error) {
    await stop();
    throw error;
  }
  const observer = nc;

  const connectClient = async (userId: string, replicas = gateways) => {
    const client = await FabricTestClient.connect({
      mcpUrls: replicas.map((gateway) => gateway.mcpUrl),
      token: await mintToken({ sub: userId }),
      name: `test-${userId}`,
    });
    clients.push(client);
    return client;
  };

  return {
    natsUrls,
    natsNodes: cluster ? cluster.nodes : [single!],
    gateways,
    nc: observer,
    connect: connectClient,
    async connectListening(userId, replicas) {
      const client = await connectClient(userId, replicas);
      await client.waitForStream(observer);
      return client;
    },
    async addGateway() {
      const gateway = await addGateway();
      gateways.push(gateway);
      return gateway;
    },
    [Symbol.asyncDispose]: stop,
  };
}

/** Collects every message on `subject` (e.g. `user.>`) for later assertions. */
export function recordTraffic(nc: NatsConnection, subject: string) {
  const seen: { subject: string; data: any }[] = [];
  const subscription = nc.subscribe(subject, {
    callback: (error, message) => {
      if (error) return;
      let data: any;
      try {
        data = message.json();
      } catch {
        data = message.string(); // JetStream API traffic is not always JSON
      }
      seen.push({ subject: message.subject, data });
    },
  });
  return {
    seen,
    stop: () => subscription.unsubscribe(),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
