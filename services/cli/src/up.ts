/**
 * `blender-fabric up`: the whole local fabric in one command (what `npm start` runs).
 * An embedded nats-server with JetStream under `.fabric/`, one gateway replica, one bridge
 * with a headless Blender, and the details an MCP client needs to connect. Ctrl-C stops
 * everything.
 */
import { join } from "node:path";
import { mintToken } from "@blender-fabric/auth";
import { ensureLocalCredentials } from "@blender-fabric/bus";
import { preferPort, startBridgeProcess, startGatewayProcess, startNatsServer } from "@blender-fabric/supervisor";
import { printConnectionGuide } from "./connection-guide.js";

export type UpOptions = {
  /** Where NATS keeps its JetStream data between runs. */
  dataDirectory: string;
  /** Preferred ports; a busy one is replaced by a free one. */
  natsPort: number;
  httpPort: number;
  /** The user id (`sub`) of the printed dev token; the local Blender joins this user's bus. */
  user: string;
  /** Bus uuid of the local headless Blender peer. */
  blenderUuid: string;
};

export async function up(options: UpOptions): Promise<void> {
  const natsPort = await preferPort(options.natsPort);
  // NATS admits only these users, even on this machine (made on first start, mode 0600).
  const credentials = await ensureLocalCredentials(options.dataDirectory);
  const nats = await startNatsServer({ directory: join(options.dataDirectory, "nats"), port: natsPort, authConfig: credentials.authorization });
  const gateway = await startGatewayProcess({
    natsUrls: [nats.url],
    port: await preferPort(options.httpPort),
    env: { FABRIC_LOG_LEVEL: process.env.FABRIC_LOG_LEVEL ?? "info", FABRIC_NATS_NKEY: credentials.gateway },
    showLogs: true,
  });
  const bridge = await startBridgeProcess({
    natsUrls: [nats.url],
    user: options.user,
    uuid: options.blenderUuid,
    env: { FABRIC_NATS_NKEY: credentials.bridge },
    showLogs: true,
  });
  const token = await mintToken({ sub: options.user, role: "llm-client" }, { expiresIn: "30d" });
  printConnectionGuide({ mcpUrl: gateway.mcpUrl, natsUrl: nats.url, operatorNkey: credentials.operator, token, user: options.user, blenderUuid: bridge.uuid });

  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  process.stderr.write("\nstopping Blender, the gateway and NATS...\n");
  await bridge.stop();
  await gateway.stop();
  await nats.stop();
}
