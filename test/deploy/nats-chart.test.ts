// Issue 17 (deploy/): the nats.conf the official chart renders from deploy/k8s/nats-values.yaml
// finds the auth Secret where the chart mounts it, and runs as a real 3-node JetStream cluster
// with the fabric's JWT auth; every NATS address the manifests give names a Service the chart
// makes. nats-chart.ts follows the chart's templates; chart-cluster.ts runs what they render.
import { afterAll, beforeAll, expect, test } from "vitest";
import { connect as connectTcp } from "node:net";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { waitFor } from "@blender-fabric/testkit";
import { natsSetup } from "../../services/cli/src/nats-credentials-commands.js";
import { CONFIG_FILE, chartConfig, chartPodFiles, chartRelease, formatConfig } from "./nats-chart.js";
import { startChartCluster, type ChartCluster } from "./chart-cluster.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const k8s = join(root, "deploy", "k8s");
const values = parse(readFileSync(join(k8s, "nats-values.yaml"), "utf8")) as Record<string, unknown>;
/** deploy/README.md installs the chart as release `nats` in the fabric's namespace. */
const release = chartRelease(values, "nats", "blender-fabric");

let setupFolder: string;
let cluster: ChartCluster;

beforeAll(async () => {
  setupFolder = mkdtempSync(join(tmpdir(), "fabric-nats-setup-"));
  await natsSetup({ out: setupFolder });
  // kubectl create secret generic nats-auth --from-file=auth.conf=secrets/auth.conf (deploy/README.md)
  cluster = await startChartCluster(release, { "nats-auth": { "auth.conf": readFileSync(join(setupFolder, "auth.conf"), "utf8") } });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(setupFolder, { recursive: true, force: true });
});

test("the chart's nats.conf includes auth.conf from the folder where the nats-auth Secret is mounted", () => {
  const text = formatConfig(chartConfig(release));
  const includes = [...text.matchAll(/^\s*include (.+);$/gmu)].map((match) => match[1]!);
  expect(includes).toHaveLength(1);
  // nats-server joins an include onto the folder of the file that names it (even an absolute one).
  const included = posix.join(posix.dirname(CONFIG_FILE), includes[0]!);
  const { mounts, volumes } = chartPodFiles(release);
  const mount = mounts.find((candidate) => posix.dirname(included) === candidate.mountPath);
  expect(mount, `${included} lies in no mount of the nats container`).toBeDefined();
  expect(volumes.find((volume) => volume.name === mount!.name)?.secret?.secretName).toBe("nats-auth");
  expect(posix.basename(included)).toBe("auth.conf");
});

test("the rendered config runs as a 3-node JetStream cluster that admits the gateway's credential and no anonymous client", async () => {
  const servers = cluster.pods.map((pod) => `nats://${pod.address}:${cluster.ports.nats}`);
  const authenticator = credsAuthenticator(new TextEncoder().encode(readFileSync(join(setupFolder, "gateway.creds"), "utf8")));
  const nc = await connect({ servers, authenticator });
  try {
    await waitFor("the JetStream meta leader", async () => {
      await jetstreamManager(nc, { timeout: 1_000 });
      return true;
    }, 30_000, 250);
    const jsz = (await (await fetch(`http://${cluster.pods[0]!.address}:${cluster.ports.monitor}/jsz`)).json()) as { meta_cluster: { cluster_size: number } };
    expect(jsz.meta_cluster.cluster_size).toBe(3);
    // The server names are the pods' names, which KEDA matches against a consumer's leader.
    const varz = (await (await fetch(`http://${cluster.pods[1]!.address}:${cluster.ports.monitor}/varz`)).json()) as { server_name: string };
    expect(varz.server_name).toBe("nats-1");
  } finally {
    await nc.close();
  }
  await expect(connect({ servers, maxReconnectAttempts: 0 })).rejects.toThrow(/authoriz/iu);
});

/** Every manifest under deploy/k8s, parsed. */
function manifests(folder = k8s): { path: string; documents: any[] }[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return manifests(path);
    if (!name.endsWith(".yaml") || name === "nats-values.yaml") return [];
    return [{ path, documents: parseAllDocuments(readFileSync(path, "utf8")).map((document) => document.toJS()) }];
  });
}

function literalValues(node: unknown, name: string): string[] {
  if (Array.isArray(node)) return node.flatMap((item) => literalValues(item, name));
  if (node === null || typeof node !== "object") return [];
  const record = node as Record<string, unknown>;
  const own = record.name === name && typeof record.value === "string" ? [record.value] : [];
  return [...own, ...Object.values(record).flatMap((value) => literalValues(value, name))];
}

test("every NATS URL in the manifests reaches the cluster through a Service the chart makes", async () => {
  const urls = manifests().flatMap(({ path, documents }) => literalValues(documents, "FABRIC_NATS_URL").flatMap((list) => list.split(",").map((url) => ({ path, url: url.trim() }))));
  expect(urls.length).toBeGreaterThanOrEqual(5);
  for (const { path, url } of urls) {
    const where = `${relative(root, path)}: ${url}`;
    expect(() => cluster.localUrl(url), where).not.toThrow();
    const local = new URL(cluster.localUrl(url));
    // A NATS client's first line from the server is its INFO: the port is a NATS listener.
    const info = await new Promise<string>((resolve, reject) => {
      const socket = connectTcp(Number(local.port), local.hostname);
      socket.once("data", (chunk: Buffer) => {
        socket.destroy();
        resolve(chunk.toString());
      });
      socket.once("error", reject);
    });
    expect(info, where).toMatch(/^INFO /u);
  }
});
