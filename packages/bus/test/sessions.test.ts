// MCP sessions across replicas, without every replica holding every session: each replica
// holds only what it served (at most `keep`), the watch keeps those current, and the session
// quotas count the same on every replica. Real nats-server; two stores on two connections
// stand for two gateway replicas.
import { afterAll, beforeAll, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { epochSeconds, type SessionRecord } from "@blender-fabric/protocol";
import { SessionStore, openFabricBuckets } from "@blender-fabric/bus";
import { startNatsServer, waitFor, type NatsServer } from "@blender-fabric/testkit";

let server: NatsServer;
const connections: NatsConnection[] = [];
let replicaA: SessionStore;
let replicaB: SessionStore;

const quotas = { FABRIC_MAX_SESSIONS_PER_USER: 3, FABRIC_SESSIONS_PER_MINUTE: 5 };
const recordFor = (userId: string): SessionRecord => {
  const now = epochSeconds();
  return { user_id: userId, client_uuids: [], log_level: "debug", protocol_version: "2025-06-18", created_at: now, last_seen: now };
};

beforeAll(async () => {
  server = await startNatsServer();
  const stores: SessionStore[] = [];
  for (let index = 0; index < 2; index += 1) {
    const nc = await connect({ servers: server.url });
    connections.push(nc);
    const { sessions } = await openFabricBuckets(nc, 1, ["sessions"]);
    stores.push(await SessionStore.open(sessions, { idleLimitSeconds: 600, keep: 2 }));
  }
  [replicaA, replicaB] = stores as [SessionStore, SessionStore];
});

afterAll(async () => {
  replicaA?.stop();
  replicaB?.stop();
  for (const nc of connections) await nc.close();
  await server?.stop();
});

test("a replica holds only the sessions it served, at most `keep`, and reads the rest when used", async () => {
  for (let index = 0; index < 3; index += 1) {
    expect(await replicaA.begin(`s-${index}`, recordFor("ada"), quotas)).toEqual({ begun: true });
  }
  expect(replicaA.held).toBe(0); // begun, never served here
  expect(replicaB.held).toBe(0);
  for (let index = 0; index < 3; index += 1) expect(await replicaB.get("ada", `s-${index}`)).toMatchObject({ user_id: "ada" });
  expect(replicaB.held).toBe(2);
  // Another user's token does not find the session.
  expect(await replicaB.get("eve", "s-0")).toBeUndefined();
});

test("a session held by one replica follows writes made through the other, and its end", async () => {
  const onB = await replicaB.get("ada", "s-2", { fresh: true });
  expect(onB?.log_level).toBe("debug");
  await replicaA.update("ada", "s-2", (record) => ({ ...record, log_level: "warning" }));
  await waitFor("replica B to see the new level", async () => (await replicaB.get("ada", "s-2"))?.log_level === "warning", 5_000, 20);
  await replicaA.delete("ada", "s-2");
  expect(await replicaB.get("ada", "s-2", { fresh: true })).toBeUndefined();
});

test("the live-session quota counts every replica's sessions, and an ended session frees a place", async () => {
  // ada has s-0 and s-1 live (s-2 ended): one more fits, then the limit is reached on either replica.
  expect(await replicaB.begin("s-3", recordFor("ada"), quotas)).toEqual({ begun: true });
  expect(await replicaA.begin("s-4", recordFor("ada"), quotas)).toEqual({ begun: false, exceeded: "FABRIC_MAX_SESSIONS_PER_USER" });
  expect(await replicaB.begin("s-4", recordFor("ada"), quotas)).toEqual({ begun: false, exceeded: "FABRIC_MAX_SESSIONS_PER_USER" });
  await replicaB.delete("ada", "s-0");
  expect(await replicaA.begin("s-4", recordFor("ada"), quotas)).toEqual({ begun: true });
});

test("the per-minute quota counts sessions begun on both replicas, ended ones included", async () => {
  const outcomes = [];
  for (let index = 0; index < 6; index += 1) {
    const replica = index % 2 === 0 ? replicaA : replicaB;
    const outcome = await replica.begin(`churn-${index}`, recordFor("bo"), quotas);
    outcomes.push(outcome);
    if (outcome.begun) await replica.delete("bo", `churn-${index}`);
  }
  expect(outcomes.slice(0, 5)).toEqual(Array(5).fill({ begun: true }));
  expect(outcomes[5]).toEqual({ begun: false, exceeded: "FABRIC_SESSIONS_PER_MINUTE" });
});

test("replicas beginning a user's sessions at once never pass the live limit together", async () => {
  const outcomes = await Promise.all(
    Array.from({ length: 8 }, (_, index) => (index % 2 === 0 ? replicaA : replicaB).begin(`race-${index}`, recordFor("cy"), { ...quotas, FABRIC_SESSIONS_PER_MINUTE: 100 })),
  );
  expect(outcomes.filter((outcome) => outcome.begun)).toHaveLength(3);
});
