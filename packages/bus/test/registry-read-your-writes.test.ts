// Read-your-writes across replicas: a registry write that returned through one connection is
// read by a registry on another connection (in a cluster, on another node) right after.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { BucketName } from "@blender-fabric/protocol";
import { ClientRegistry, openFabricBuckets, registerClient } from "@blender-fabric/bus";
import { startNatsCluster, startNatsServer } from "@blender-fabric/testkit";

const ROUNDS = 200;
/** Concurrent loops of unrelated reads that keep a replica's freshness check in flight. */
const BACKGROUND_READERS = 8;

type Servers = { urls: string[]; stop(): Promise<void> };

const topologies = [
  {
    name: "one server",
    replicas: 1,
    async start(): Promise<Servers> {
      const server = await startNatsServer();
      return { urls: [server.url, server.url, server.url], stop: () => server.stop() };
    },
  },
  {
    name: "a 3-node cluster, R3 bucket, each replica on its own node",
    replicas: 3,
    async start(): Promise<Servers> {
      const cluster = await startNatsCluster(3);
      return { urls: cluster.urls, stop: () => cluster.stop() };
    },
  },
];

describe.each(topologies)("registry read-your-writes on $name", ({ replicas, start }) => {
  let servers: Servers | undefined;
  const connections: NatsConnection[] = [];
  /** Three gateway replicas in miniature. */
  const registries: ClientRegistry[] = [];

  beforeAll(async () => {
    servers = await start();
    for (const url of servers.urls) {
      const nc = await connect({ servers: url });
      connections.push(nc);
      const { clients } = await openFabricBuckets(nc, replicas, ["clients"]);
      registries.push(await ClientRegistry.open(clients));
    }
  });

  afterAll(async () => {
    for (const registry of registries) registry.stop();
    await Promise.all(connections.map((nc) => nc.close()));
    await servers?.stop();
  });

  const uuidsOf = async (registry: ClientRegistry, userId: string) =>
    (await registry.list(userId)).map((client) => client.uuid);

  test(`a register or unregister through one replica is read by the next right after it returns (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round += 1) {
      const writer = registries[round % 3]!;
      const reader = registries[(round + 1) % 3]!;
      await writer.register("ryw", { uuid: `c${round}`, client_type: "llm" });
      if (round % 2 === 0) expect(await uuidsOf(reader, "ryw"), `list, round ${round}`).toContain(`c${round}`);
      else expect(await reader.get("ryw", `c${round}`), `get, round ${round}`).toBeDefined();
      if (round % 10 === 9) {
        await writer.unregister("ryw", `c${round - 5}`);
        expect(await uuidsOf(reader, "ryw"), `unregister, round ${round}`).not.toContain(`c${round - 5}`);
      }
    }
  });

  test(`the same while other reads on the reading replica keep a check in flight (${ROUNDS} rounds)`, async () => {
    const reader = registries[1]!;
    let reading = true;
    const background = Array.from({ length: BACKGROUND_READERS }, async () => {
      while (reading) {
        await reader.list("someone-else");
        // Lets I/O run even if a read never waits for any (so a broken sync fails, not hangs).
        await new Promise(setImmediate);
      }
    });
    try {
      for (let round = 0; round < ROUNDS; round += 1) {
        await registries[round % 2 === 0 ? 0 : 2]!.register("busy", { uuid: `c${round}`, client_type: "llm" });
        expect(await uuidsOf(reader, "busy"), `round ${round}`).toContain(`c${round}`);
      }
    } finally {
      reading = false;
      await Promise.all(background);
    }
  });
});

describe("registry read-your-writes after a read straight from KV", () => {
  test("a client loaded from KV does not let a later list skip writes its watch has not delivered yet", async () => {
    const server = await startNatsServer();
    const writerNc = await connect({ servers: server.url });
    const readerNc = await connect({ servers: server.url });
    const { clients: writerBucket } = await openFabricBuckets(writerNc, 1, ["clients"]);
    const reader = await ClientRegistry.open((await openFabricBuckets(readerNc, 1, ["clients"])).clients);
    try {
      // The reader's watch is the bucket's only consumer; without it the watch delivers nothing
      // until the reader replaces it (nats.js alone notices only after missed heartbeats).
      const jsm = await jetstreamManager(writerNc);
      for await (const consumer of jsm.consumers.list(`KV_${BucketName.Clients}`)) {
        await jsm.consumers.delete(`KV_${BucketName.Clients}`, consumer.name);
      }
      await registerClient(writerBucket, "loaded", { uuid: "first", client_type: "llm" });
      await registerClient(writerBucket, "loaded", { uuid: "second", client_type: "llm" });
      // The reaper reads a peer this way; "second" is newer than anything the watch delivered.
      expect(await reader.load("loaded", "second")).toBeDefined();
      expect((await reader.list("loaded")).map((client) => client.uuid).sort()).toEqual(["first", "second"]);
    } finally {
      reader.stop();
      await Promise.all([writerNc.close(), readerNc.close()]);
      await server.stop();
    }
  });
});
