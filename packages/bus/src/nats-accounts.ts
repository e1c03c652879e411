/**
 * Decentralized JWT auth for a production NATS (nats-server 2.9): an operator signs the
 * fabric's account (JetStream on) and a system account; the fabric account's key signs user
 * JWTs with their permissions (nats-permissions.ts) and an expiry. The server knows only the
 * operator and the two account JWTs, so a new peer's credential needs no change to the
 * server's configuration: whoever holds the account seed mints it (`blender-fabric
 * nats-creds`). Signing is `@nats-io/jwt`'s, keys are `@nats-io/nkeys`'.
 */
import { createAccount, createOperator, createUser, fromSeed, type KeyPair } from "@nats-io/nkeys";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import type { NatsPermissions } from "./nats-permissions.js";

/** The keys and JWTs of a fabric NATS deployment; the seeds are secrets. */
export type FabricNatsAccounts = {
  operatorSeed: string;
  operatorJwt: string;
  systemAccountSeed: string;
  systemAccountJwt: string;
  /** Signs every user credential of the fabric account: keep it with the operators only. */
  accountSeed: string;
  accountJwt: string;
};

const seedOf = (pair: KeyPair) => new TextDecoder().decode(pair.getSeed());
const pairOf = (seed: string) => fromSeed(new TextEncoder().encode(seed));

/** New operator, system account and fabric account (JetStream without limits). */
export async function createFabricAccounts(): Promise<FabricNatsAccounts> {
  const operator = createOperator();
  const system = createAccount();
  const fabric = createAccount();
  const operatorJwt = await encodeOperator("blender-fabric", operator, { system_account: system.getPublicKey() });
  const systemAccountJwt = await encodeAccount("SYS", system, {}, { signer: operator });
  const accountJwt = await encodeAccount(
    "FABRIC",
    fabric,
    { limits: { disk_storage: -1, mem_storage: -1, streams: -1, consumer: -1, subs: -1, conn: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, leaf: -1 } },
    { signer: operator },
  );
  return {
    operatorSeed: seedOf(operator),
    operatorJwt,
    systemAccountSeed: seedOf(system),
    systemAccountJwt,
    accountSeed: seedOf(fabric),
    accountJwt,
  };
}

/**
 * The part of a nats-server configuration that makes it trust these accounts (a memory
 * resolver with both account JWTs preloaded). Add `listen`, `jetstream` and `cluster`.
 */
export function serverAuthConfig(accounts: Pick<FabricNatsAccounts, "operatorJwt" | "systemAccountJwt" | "accountJwt" | "systemAccountSeed" | "accountSeed">): string {
  const system = pairOf(accounts.systemAccountSeed).getPublicKey();
  const fabric = pairOf(accounts.accountSeed).getPublicKey();
  return [
    // A peer's user JWT lists every subject it may use (about 7 KB), and arrives in CONNECT.
    "max_control_line: 65536",
    `operator: ${accounts.operatorJwt}`,
    `system_account: ${system}`,
    "resolver: MEMORY",
    "resolver_preload: {",
    `  ${system}: ${accounts.systemAccountJwt}`,
    `  ${fabric}: ${accounts.accountJwt}`,
    "}",
  ].join("\n");
}

export type MintOptions = {
  /** Shown in server connection lists. */
  name: string;
  /** Omitted: the user may do everything in the account (the gateway tier). */
  permissions?: NatsPermissions;
  /** Lifetime in seconds; omitted: no expiry. */
  expiresInSeconds?: number;
};

/** A user credential (`.creds` file contents: the user JWT and its seed) signed by the account. */
export async function mintUserCreds(accountSeed: string, options: MintOptions): Promise<string> {
  const user = createUser();
  const account = pairOf(accountSeed);
  const exp = options.expiresInSeconds ? Math.floor(Date.now() / 1000) + Math.ceil(options.expiresInSeconds) : undefined;
  const jwt = await encodeUser(options.name, user, account, options.permissions ?? {}, exp ? { exp } : {});
  return new TextDecoder().decode(fmtCreds(jwt, user));
}
