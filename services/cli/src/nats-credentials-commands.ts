/**
 * `blender-fabric nats-setup` and `nats-creds`: the production NATS plane's credentials
 * without editing the server's configuration for each peer (DESIGN.md section 9).
 *
 * - `nats-setup --out <dir>` makes the operator, the system account and the fabric account
 *   once (`accounts.json`, the secret seeds), the server's `auth.conf` to include, and the
 *   credentials of the gateway tier and of operations.
 * - `nats-creds` mints one peer's credential from `accounts.json`: it names the peer's tenant,
 *   uuid and group, so it is good for that peer only, and it expires.
 */
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fromSeed } from "@nats-io/nkeys";
import {
  createFabricAccounts,
  mintUserCreds,
  operatorPermissions,
  peerPermissions,
  serverAuthConfig,
  type FabricNatsAccounts,
} from "@blender-fabric/bus";

const secret = (path: string, text: string) => writeFile(path, text, { mode: 0o600 });

export async function natsSetup(options: { out: string }): Promise<void> {
  const accountsFile = join(options.out, "accounts.json");
  if (await access(accountsFile).then(() => true, () => false)) {
    throw new Error(`${accountsFile} exists: these accounts are set up already (remove the folder to start over)`);
  }
  await mkdir(options.out, { recursive: true, mode: 0o700 });
  const accounts = await createFabricAccounts();
  await secret(accountsFile, `${JSON.stringify(accounts, null, 2)}\n`);
  await writeFile(join(options.out, "auth.conf"), `# Made by blender-fabric nats-setup; include it from nats-server.conf.\n${serverAuthConfig(accounts)}\n`);
  await secret(join(options.out, "gateway.creds"), await mintUserCreds(accounts.accountSeed, { name: "gateway" }));
  await secret(join(options.out, "operator.creds"), await mintUserCreds(accounts.accountSeed, { name: "operations", permissions: operatorPermissions() }));
  process.stdout.write(
    [
      `accounts.json   the operator's and accounts' seeds: keep it secret, it signs every credential`,
      `fabric account  ${fromSeed(new TextEncoder().encode(accounts.accountSeed)).getPublicKey()} (KEDA's nats-jetstream account: store it as accountID in the Secret nats-jetstream-account, deploy/README.md)`,
      `auth.conf       include it in nats-server.conf (deploy/nats/nats-server.conf does)`,
      `gateway.creds   FABRIC_NATS_CREDS of every gateway replica`,
      `operator.creds  read-only operations view (blender-fabric tail --creds …)`,
      `Peers: blender-fabric nats-creds --accounts ${accountsFile} --user <tenant> --uuid <peer> [--group <id>] --out <peer>.creds`,
      "",
    ]
      .map((line) => `${line}\n`)
      .join(""),
  );
}

export type PeerCredsOptions = { accounts: string; user: string; uuid: string; group?: string; project?: string; farmWorker: boolean; expires: number; out: string };

export async function mintPeerCreds(options: PeerCredsOptions): Promise<void> {
  const accounts = JSON.parse(await readFile(options.accounts, "utf8")) as FabricNatsAccounts;
  const permissions = peerPermissions({ userId: options.user, clientUuid: options.uuid, groupId: options.group ?? null, farmWorker: options.farmWorker, projectId: options.project ?? null });
  const creds = await mintUserCreds(accounts.accountSeed, { name: `peer ${options.uuid} of ${options.user}`, permissions, expiresInSeconds: options.expires });
  await secret(options.out, creds);
  process.stdout.write(
    `${options.out}: peer ${options.uuid} of tenant ${options.user}${options.group ? `, group ${options.group}` : ""}, ` +
      `valid ${options.expires} s. Start the bridge with FABRIC_NATS_CREDS=${options.out} FABRIC_USER=${options.user} ` +
      `FABRIC_CLIENT_UUID=${options.uuid}${options.group ? ` FABRIC_GROUP_ID=${options.group}` : ""}` +
      `${options.project ? ` FABRIC_PROJECT_ID=${options.project}` : ""}.\n`,
  );
}
