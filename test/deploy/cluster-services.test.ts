// Issue 17 (deploy/): the gateway and the pool start from the build output the images run, with
// the environment their manifests set, against the chart's NATS cluster (nats-values.yaml, run
// for real), and answer /readyz; a bridge inside the cluster gets its NATS credential from
// http://gateway while the public routes refuse that Host; and KEDA's query, made as its
// nats-jetstream scaler makes it, reads one task per queued farm task, so the ScaledJob starts
// one bridge per task.
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { FabricTestClient, findFreePort, waitFor } from "@blender-fabric/testkit";
import { natsSetup } from "../../services/cli/src/nats-credentials-commands.js";
import { chartRelease } from "./nats-chart.js";
import { startChartCluster, type ChartCluster } from "./chart-cluster.js";
import { runPod, type PodSpec, type RunningPod } from "./pod.js";
import { jobsToStart, scalerLag, type ScalerTrigger } from "./keda-jetstream.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const k8s = join(root, "deploy", "k8s");
const documentsOf = (file: string): any[] => parseAllDocuments(readFileSync(join(k8s, file), "utf8")).map((document) => document.toJS());
const podSpecOf = (file: string, kind: string): PodSpec => {
  const document = documentsOf(file).find((candidate) => candidate?.kind === kind);
  return (kind === "ScaledJob" ? document.spec.jobTargetRef.template.spec : document.spec.template.spec) as PodSpec;
};
const envOf = (spec: PodSpec) => Object.fromEntries((spec.containers[0]!.env ?? []).map(({ name, value }) => [name, value]));

let cluster: ChartCluster;
let setup: string;
let accountId: string;
let identityProvider: Server;
let signToken: (claims: Record<string, unknown>) => Promise<string>;
let gateway: RunningPod;
let pool: RunningPod;
let gatewayPort: number;
let poolPort: number;

/** `npm run build`, as the Dockerfiles run it (turbo: quick when nothing changed). */
function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "build", "--", "--filter=@blender-fabric/gateway", "--filter=@blender-fabric/pool", "--output-logs=errors-only"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`npm run build failed:\n${log.slice(-4_000)}`))));
  });
}

/** The README's command that turns accounts.json into the id KEDA's Secret holds, run as written. */
function readmeAccountIdCommand(): string {
  const readme = readFileSync(join(root, "deploy", "README.md"), "utf8");
  const line = readme.split("\n").find((candidate) => candidate.includes("> secrets/account.id"));
  if (!line) throw new Error("deploy/README.md has no command writing secrets/account.id");
  return line.trim();
}

function runShell(command: string, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`${command}: ${output}`))));
  });
}

/** A JWKS identity provider standing in for the one gateway.yaml names (its issuer and audience kept). */
async function startIdentityProvider(issuer: string, audience: string): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "deploy-test", alg: "RS256", use: "sig" };
  signToken = (claims) => new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "deploy-test" }).setIssuer(issuer).setAudience(audience).setIssuedAt().setExpirationTime("10m").sign(privateKey);
  identityProvider = createServer((_request, response) => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => identityProvider.listen(0, "127.0.0.1", resolve));
  const address = identityProvider.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/.well-known/jwks.json`;
}

/** NATS URLs (a comma list) name the chart's Services; other values are left alone. */
const localUrl = (value: string) => (value.startsWith("nats://") ? value.split(",").map((url) => cluster.localUrl(url.trim())).join(",") : value);

beforeAll(async () => {
  setup = mkdtempSync(join(tmpdir(), "fabric-deploy-"));
  const secretsFolder = join(setup, "secrets");
  mkdirSync(secretsFolder);
  const [, accounts] = await Promise.all([build(), natsSetup({ out: secretsFolder }).then(() => JSON.parse(readFileSync(join(secretsFolder, "accounts.json"), "utf8")))]);
  accountId = (await runShell(readmeAccountIdCommand(), setup)) || readFileSync(join(secretsFolder, "account.id"), "utf8");
  // deploy/README.md, section 2: the Secrets, from the files nats-setup wrote.
  const secrets = {
    "nats-auth": { "auth.conf": readFileSync(join(secretsFolder, "auth.conf"), "utf8") },
    "gateway-nats-credentials": { "gateway.creds": readFileSync(join(secretsFolder, "gateway.creds"), "utf8") },
    "nats-account-seed": { "account.seed": accounts.accountSeed as string },
  };
  cluster = await startChartCluster(chartRelease(parse(readFileSync(join(k8s, "nats-values.yaml"), "utf8")), "nats", "blender-fabric"), secrets);

  const gatewaySpec = podSpecOf("gateway.yaml", "Deployment");
  const manifestEnv = envOf(gatewaySpec);
  const jwksUrl = await startIdentityProvider(manifestEnv.FABRIC_JWT_ISSUER!, manifestEnv.FABRIC_JWT_AUDIENCE!);
  [gatewayPort, poolPort] = [await findFreePort(), await findFreePort()];
  gateway = runPod(gatewaySpec, { repositoryRoot: root, secrets, localUrl, overrides: { FABRIC_HTTP_PORT: String(gatewayPort), FABRIC_JWKS_URL: jwksUrl } });
  pool = runPod(podSpecOf("knative/pool.yaml", "Deployment"), { repositoryRoot: root, secrets, localUrl, overrides: { FABRIC_HEALTH_PORT: String(poolPort) } });
}, 240_000);

afterAll(async () => {
  await Promise.allSettled([gateway?.stop(), pool?.stop()]);
  identityProvider?.close();
  await cluster?.stop();
  rmSync(setup, { recursive: true, force: true });
});

const readyz = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200;

test("the gateway and the pool run from the build output with their manifests' environment, and answer /readyz (and /ui)", async () => {
  await waitFor("the gateway's /readyz", () => readyz(gatewayPort), 60_000, 250).catch((error: Error) => {
    throw new Error(`${error.message}\n${gateway.logs()}`);
  });
  await waitFor("the pool's /readyz", () => readyz(poolPort), 60_000, 250).catch((error: Error) => {
    throw new Error(`${error.message}\n${pool.logs()}`);
  });
  // The dashboard's static files are found beside the build output (the image copies ui/).
  const dashboard = await fetch(`http://127.0.0.1:${gatewayPort}/ui`);
  expect(dashboard.status).toBe(200);
  expect(await dashboard.text()).toContain('action="/ui/login"');
  // The manifest's own values reached them: three replicas of every bucket on the three nodes.
  expect(gateway.env.FABRIC_KV_REPLICAS).toBe("3");
  expect(pool.env.FABRIC_POOL_LAUNCHER).toBe("knative");
});

/** A raw HTTP request with exactly this Host, as a client that resolved it would send. */
function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: "127.0.0.1", port: gatewayPort, method, path, headers }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

test("a bridge in the cluster gets its NATS credential from http://gateway, and the public routes still refuse that Host", async () => {
  await waitFor("the gateway's /readyz", () => readyz(gatewayPort), 60_000, 250);
  const bridge = envOf(podSpecOf("bridge.yaml", "ScaledJob"));
  const gatewayHost = new URL(bridge.FABRIC_GATEWAY_URL!).host;
  const token = await signToken({ sub: bridge.FABRIC_USER, role: "blender-client" });
  const asked = await send("POST", "/nats/credentials", { host: gatewayHost, authorization: `Bearer ${token}`, "content-type": "application/json" }, JSON.stringify({ client_uuid: "blender-bridge-render-cluster-x1-7", group_id: bridge.FABRIC_GROUP_ID, farm_worker: false }));
  expect(asked.status, asked.body).toBe(200);
  const { creds } = JSON.parse(asked.body) as { creds: string };
  // The credential is good on the chart's cluster.
  const nc = await connect({ servers: cluster.localUrl("nats://nats:4222"), authenticator: credsAuthenticator(new TextEncoder().encode(creds)) });
  await nc.close();

  const llmToken = await signToken({ sub: bridge.FABRIC_USER });
  const initialize = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
  const mcpHeaders = { authorization: `Bearer ${llmToken}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
  expect((await send("POST", "/mcp", { ...mcpHeaders, host: gatewayHost }, initialize)).status).toBe(403);
  expect((await send("GET", "/artifacts/studio/j/x", { authorization: `Bearer ${llmToken}`, host: gatewayHost })).status).toBe(403);
  expect((await send("POST", "/mcp", { ...mcpHeaders, host: "fabric.example.com" }, initialize)).status).toBe(200);
  expect((await send("POST", "/nats/credentials", { host: "evil.example", authorization: `Bearer ${token}`, "content-type": "application/json" }, "{}")).status).toBe(403);
});

test("KEDA's query reads one task per queued farm task of the group, and its ScaledJob starts one bridge per task", async () => {
  await waitFor("the gateway's /readyz", () => readyz(gatewayPort), 60_000, 250);
  const scaledJob = documentsOf("bridge.yaml").find((document) => document?.kind === "ScaledJob");
  const bridge = envOf(scaledJob.spec.jobTargetRef.template.spec);
  const llm = await FabricTestClient.connect({ mcpUrls: [`http://localhost:${gatewayPort}/mcp`], token: await signToken({ sub: bridge.FABRIC_USER }) });
  const tasks = 5;
  try {
    // A group with no bridge: the tasks wait on its consumers, as when the ScaledJob is at zero.
    const farm = await llm.call("blender_farm_map", { script: "print(items)", items: Array.from({ length: tasks }, (_, index) => index), chunk_size: 1, group_id: bridge.FABRIC_GROUP_ID });
    expect(farm).toMatchObject({ status: "queued", tasks });
  } finally {
    await llm.close();
  }

  // The trigger's fields, with accountID from the TriggerAuthentication's Secret (made by the README's command).
  const [authentication] = documentsOf("keda-auth.yaml");
  const triggers = (scaledJob.spec.triggers as { authenticationRef: { name: string }; metadata: ScalerTrigger }[]).map((trigger) => {
    expect(trigger.authenticationRef.name).toBe(authentication.metadata.name);
    const fromSecret = Object.fromEntries((authentication.spec.secretTargetRef as { parameter: string }[]).map(({ parameter }) => [parameter, accountId]));
    return { ...trigger.metadata, ...fromSecret } as ScalerTrigger;
  });
  const fetchJson = async (url: string) => (await fetch(cluster.localUrl(url))).json();
  // varz lists the routes as this machine runs them; KEDA sees the chart's names.
  const asKedaSees = async (url: string) => {
    const answer = (await fetchJson(url)) as { cluster?: { urls?: string[] } };
    if (url.includes("/varz") && answer.cluster?.urls) answer.cluster.urls = answer.cluster.urls.map((route) => cluster.chartRouteOf(route));
    return answer;
  };
  let lags: number[] = [];
  await waitFor("KEDA's lag to count every task", async () => {
    lags = await Promise.all(triggers.map((trigger) => scalerLag(trigger, asKedaSees)));
    return lags.reduce((sum, lag) => sum + lag, 0) === tasks;
  }, 15_000, 250);
  const { lagThreshold } = scaledJob.spec.triggers[0].metadata;
  expect(jobsToStart(lags, Number(lagThreshold), scaledJob.spec.scalingStrategy.multipleScalersCalculation, scaledJob.spec.maxReplicaCount, 0)).toBe(tasks);
  // Two bridges already running (each holding a task, still counted in the lag): three more.
  expect(jobsToStart(lags, Number(lagThreshold), scaledJob.spec.scalingStrategy.multipleScalersCalculation, scaledJob.spec.maxReplicaCount, 2)).toBe(tasks - 2);

  // The placeholder the manifests used to carry: no account matches, which KEDA before 2.20 read as a lag of 0.
  await expect(scalerLag({ ...triggers[0]!, accountID: undefined, account: "FABRIC_ACCOUNT_PUBLIC_KEY" }, asKedaSees)).rejects.toThrow(/not found/u);
});
