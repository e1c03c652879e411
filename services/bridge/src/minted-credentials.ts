/**
 * A bridge with no NATS credential of its own (FABRIC_NATS_CREDS) but a gateway and a
 * `blender-client` token (FABRIC_GATEWAY_URL, FABRIC_TOKEN) asks the gateway for one
 * (`POST /nats/credentials`) and renews it at half its lifetime, so it never reconnects
 * with an expired one. The credential names this bridge's tenant, uuid and group.
 */
import { credsAuthenticator, type Authenticator } from "@nats-io/transport-node";
import type { Logger } from "./logger.js";

export type MintedCredentialOptions = {
  gatewayUrl: string;
  token: string;
  clientUuid: string;
  groupId: string | null;
  farmWorker: boolean;
  projectId: string | null;
  logger: Logger;
};

type Minted = { creds: string; expires_at: number };

async function fetchCredential(options: MintedCredentialOptions): Promise<Minted> {
  const response = await fetch(new URL("/nats/credentials", options.gatewayUrl), {
    method: "POST",
    headers: { authorization: `Bearer ${options.token}`, "content-type": "application/json" },
    body: JSON.stringify({ client_uuid: options.clientUuid, group_id: options.groupId, farm_worker: options.farmWorker, project_id: options.projectId }),
  });
  if (!response.ok) throw new Error(`the gateway refused a NATS credential (HTTP ${response.status}): ${await response.text()}`);
  return (await response.json()) as Minted;
}

/** An authenticator that always presents the newest credential; renews it in the background. */
export async function mintedAuthenticator(options: MintedCredentialOptions): Promise<{ authenticator: Authenticator; stop(): void }> {
  const first = await fetchCredential(options);
  let current = credsAuthenticator(new TextEncoder().encode(first.creds));
  let timer: NodeJS.Timeout | undefined;
  const schedule = (expiresAt: number) => {
    const halfLife = Math.max(1_000, (expiresAt * 1000 - Date.now()) / 2);
    timer = setTimeout(() => {
      fetchCredential(options)
        .then((minted) => {
          current = credsAuthenticator(new TextEncoder().encode(minted.creds));
          schedule(minted.expires_at);
        })
        .catch((error: unknown) => {
          options.logger.warn({ err: error }, "could not renew the NATS credential; trying again soon");
          schedule(Date.now() / 1000 + 10);
        });
    }, halfLife);
  };
  schedule(first.expires_at);
  return { authenticator: (nonce?: string) => current(nonce), stop: () => clearTimeout(timer) };
}
