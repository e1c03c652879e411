/**
 * NATS credentials of a fabric process, and the local ones `npm start` makes. No fabric
 * process connects to NATS without credentials: a process on the same machine that could
 * publish a hand-made `command_dispatch` would run code inside Blender.
 *
 * A process names its credential by file: an nkey seed (`FABRIC_NATS_NKEY`, nkey auth, the
 * server lists the public key) or a `.creds` file (`FABRIC_NATS_CREDS`, decentralized JWT
 * auth). Seeds are generated with `@nats-io/nkeys` and written with mode 0600.
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { credsAuthenticator, nkeyAuthenticator, type Authenticator } from "@nats-io/transport-node";

export type NatsCredentialFiles = {
  /** Path of an nkey seed file (`SU…`). */
  nkeySeedFile?: string;
  /** Path of a `.creds` file (user JWT and seed). */
  credsFile?: string;
};

/** The authenticator for the given files; undefined when none is given. */
export async function authenticatorFor(files: NatsCredentialFiles): Promise<Authenticator | undefined> {
  if (files.credsFile) return credsAuthenticator(await readFile(files.credsFile));
  if (files.nkeySeedFile) return nkeyAuthenticator(new TextEncoder().encode((await readFile(files.nkeySeedFile, "utf8")).trim()));
  return undefined;
}

/** The users of a local fabric, each an nkey whose seed file only its owner can read. */
export type LocalCredentials = {
  /** The gateway replicas: the fabric's trusted tier. */
  gateway: string;
  /** The local bridges (the pool hands this key to the peers it starts): the peer API only. */
  bridge: string;
  /** The peer pool: trusted like a gateway (it reads every tenant's demand). */
  pool: string;
  /** Read-only operations view (`blender-fabric tail`): subscribe to `user.>`, publish nothing. */
  operator: string;
  /** The nats-server `authorization` block that admits exactly these users. */
  authorization: string;
};

const LOCAL_USERS = ["gateway", "bridge", "pool", "operator"] as const;

/** The seed in `path`, made (mode 0600) if there is none yet; returns its public key. */
async function ensureSeed(path: string): Promise<string> {
  let seed: string;
  try {
    seed = (await readFile(path, "utf8")).trim();
  } catch {
    seed = new TextDecoder().decode(createUser().getSeed());
    await writeFile(path, `${seed}\n`, { mode: 0o600 });
  }
  await chmod(path, 0o600); // also tightens a file someone loosened
  return fromSeed(new TextEncoder().encode(seed)).getPublicKey();
}

/**
 * The local fabric's credentials under `<directory>/credentials/`, made on first start and
 * kept for the next. The gateway and the pool may do everything (the trusted tier); the local
 * bridges only speak the peer API; the operator may only watch.
 */
export async function ensureLocalCredentials(directory: string): Promise<LocalCredentials> {
  const folder = join(directory, "credentials");
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await chmod(folder, 0o700);
  const paths = Object.fromEntries(LOCAL_USERS.map((user) => [user, join(folder, `${user}.nk`)])) as Record<(typeof LOCAL_USERS)[number], string>;
  const [gateway, bridge, pool, operator] = await Promise.all(LOCAL_USERS.map((user) => ensureSeed(paths[user])));
  const authorization = [
    "authorization {",
    "  users = [",
    `    { nkey: ${gateway} }`,
    // Bridges are untrusted even here: the peer API, answers on peers' inboxes, cancel
    // requests on client subjects, and no JetStream (nats-permissions.ts says why).
    `    { nkey: ${bridge}, permissions: { publish: { allow: ["fabric.peer.>"] }, subscribe: { allow: ["user.*.client.*", "_INBOX_peer.>"] }, allow_responses: { max: 1 } } }`,
    `    { nkey: ${pool} }`,
    `    { nkey: ${operator}, permissions: { publish: { deny: [">"] }, subscribe: { allow: ["user.>"] } } }`,
    "  ]",
    "}",
  ].join("\n");
  return { ...paths, authorization };
}
