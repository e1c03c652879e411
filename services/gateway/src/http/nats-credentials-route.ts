/**
 * `POST /nats/credentials`: a peer trades a fabric token with role `blender-client` for a
 * short-lived NATS credential of its own tenant (the token's user), so a new bridge needs
 * neither a hand-made credential nor a change to the NATS server. The gateway signs with
 * the fabric account's seed (FABRIC_NATS_ACCOUNT_SEED_FILE); without one the route answers
 * 404. The body names the peer: `{client_uuid, group_id?, farm_worker?}`.
 */
import { readFile } from "node:fs/promises";
import type { Hono } from "hono";
import { z } from "zod";
import { IdentifierSchema, toInvalidParamsResult } from "@blender-fabric/protocol";
import { mintUserCreds, peerPermissions } from "@blender-fabric/bus";
import type { AuthVariables } from "./auth-middleware.js";

const PeerRequestSchema = z.object({
  client_uuid: IdentifierSchema,
  group_id: IdentifierSchema.nullable().default(null),
  farm_worker: z.boolean().default(true),
  /** The project the peer serves (it takes that project's work). */
  project_id: IdentifierSchema.nullable().default(null),
});

export type NatsCredentialOptions = {
  /** File holding the fabric account's seed (`SA…`); unset: the route is not offered. */
  accountSeedFile: string | undefined;
  /** Lifetime of a minted credential. Seconds */
  lifetimeSeconds: number;
};

export function mountNatsCredentialRoutes(app: Hono<{ Variables: AuthVariables }>, options: NatsCredentialOptions): void {
  app.post("/credentials", async (c) => {
    if (!options.accountSeedFile) return c.json({ error: "this gateway does not mint NATS credentials (FABRIC_NATS_ACCOUNT_SEED_FILE)" }, 404);
    const identity = c.get("identity");
    if (identity.role !== "blender-client") {
      return c.json({ error: "only a token with role blender-client gets a peer's NATS credential" }, 403);
    }
    const parsed = PeerRequestSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json(toInvalidParamsResult(parsed.error), 400);
    const seed = (await readFile(options.accountSeedFile, "utf8")).trim();
    const peer = { userId: identity.userId, clientUuid: parsed.data.client_uuid, groupId: parsed.data.group_id, farmWorker: parsed.data.farm_worker, projectId: parsed.data.project_id };
    const creds = await mintUserCreds(seed, {
      name: `peer ${peer.clientUuid} of ${peer.userId}`,
      permissions: peerPermissions(peer),
      expiresInSeconds: options.lifetimeSeconds,
    });
    const expiresAt = Math.floor(Date.now() / 1000) + options.lifetimeSeconds;
    return c.json({ status: "ok", user_id: peer.userId, client_uuid: peer.clientUuid, expires_at: expiresAt, creds }, 200);
  });
}
