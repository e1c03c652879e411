import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ClientRegistry, openFabricBuckets } from "@blender-fabric/bus";
import { startNatsServer, type NatsServer } from "@blender-fabric/testkit";

let nats: NatsServer;
let connections: NatsConnection[] = [];
/** Two registries on two connections: two gateway replicas in miniature. */
let replicaA: ClientRegistry;
let replicaB: ClientRegistry;

async function openRegistry(options = { staleAfterSeconds: 30, evictAfterSeconds: 3600 }) {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  const { clients } = await openFabricBuckets(nc, 1, ["clients"]);
  return ClientRegistry.open(clients, options);
}

beforeAll(async () => {
  nats = await startNatsServer();
  replicaA = await openRegistry();
  replicaB = await openRegistry();
});

afterAll(async () => {
  replicaA?.stop();
  replicaB?.stop();
  await Promise.all(connections.map((nc) => nc.close()));
  await nats?.stop();
});

describe("client registry", () => {
  test("re-registration updates in place; persistence is sticky; absent fields keep old values", async () => {
    const first = await replicaA.register("u1", {
      uuid: "blender-abc",
      client_type: "blender",
      is_persistent: true,
      capabilities: ["rendering"],
      group_id: "render-cluster",
      pid: 4242,
    });
    const second = await replicaB.register("u1", {
      uuid: "blender-abc",
      client_type: "blender",
      is_persistent: false,
      capabilities: ["rendering", "gpu"],
    });
    expect(second.is_persistent).toBe(true);
    expect(second.capabilities).toEqual(["rendering", "gpu"]);
    expect(second.group_id).toBe("render-cluster");
    expect(second.pid).toBe(4242);
    expect(second.connected_at).toBe(first.connected_at);
    expect(second.last_seen).toBeGreaterThanOrEqual(first.last_seen);
    const cleared = await replicaA.register("u1", { uuid: "blender-abc", client_type: "blender", group_id: null });
    expect(cleared.group_id).toBeNull();
  });

  test("users are separate even with the same uuid", async () => {
    await replicaA.register("alice", { uuid: "same", client_type: "llm", label: "alice's" });
    await replicaA.register("bob", { uuid: "same", client_type: "llm", label: "bob's" });
    expect((await replicaB.get("alice", "same"))?.label).toBe("alice's");
    expect((await replicaB.get("bob", "same"))?.label).toBe("bob's");
    expect(await replicaB.unregister("alice", "same")).toBe(true);
    expect(await replicaB.unregister("alice", "same")).toBe(false);
    expect(await replicaA.get("bob", "same")).toBeDefined();
  });

  test("staleness comes from last_seen; heartbeats refresh it; eviction removes the silent", async () => {
    const record = await replicaA.register("u2", { uuid: "quiet", client_type: "blender" });
    const later = (record.last_seen + 31) * 1000;
    expect(replicaA.describe(record, later)).toMatchObject({ stale: true, last_seen_seconds_ago: 31 });
    expect(replicaA.describe(record, record.last_seen * 1000)).toMatchObject({ stale: false });

    const beat = await replicaB.heartbeat("u2", "quiet", { health: { queue_depth: 2, active_jobs: 1 } });
    expect(beat?.health).toEqual({ queue_depth: 2, active_jobs: 1 });
    expect(await replicaB.heartbeat("u2", "never-registered")).toBeUndefined();

    const evicted = await replicaA.evictExpired((record.last_seen + 3601) * 1000);
    expect(evicted).toBeGreaterThanOrEqual(1);
    expect(await replicaB.get("u2", "quiet")).toBeUndefined();
  });
});
