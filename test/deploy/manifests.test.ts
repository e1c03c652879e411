// Issue 9 (deploy/): every manifest in deploy/ parses, every environment variable it (or a
// Dockerfile) sets is one the service reads, with a value it accepts, and every command it runs
// is a build output of the repository's own sources. KEDA watches the consumers the bridges it
// scales really pull from, and the pool wakes a project at the Knative Service the template
// makes for it. Nothing here needs a cluster: it reads the files.
import { expect, test } from "vitest";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { FARM_PRIORITIES, StreamName, consumerForGroup, consumerForUserFarm } from "@blender-fabric/protocol";
import { GatewayEnvSchema, readGatewayEnv } from "../../services/gateway/src/env.js";
import { isOlderServerVersion, parseServerVersion } from "../../services/gateway/src/nats-version.js";
import { BridgeEnvSchema, readBridgeEnv } from "../../services/bridge/src/env.js";
import { PoolEnvSchema } from "../../services/pool/src/env.js";
import { KnativeWaker } from "../../services/pool/src/knative-waker.js";
import { createLogger } from "../../services/pool/src/logger.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const deploy = join(root, "deploy");

type EnvSchema = { shape: Record<string, unknown>; safeParse(source: unknown): { success: boolean; error?: { message: string } } };
/** Each service's environment schema, by its folder in services/ (which its command names). */
const ENV_SCHEMAS: Record<string, EnvSchema> = { gateway: GatewayEnvSchema, bridge: BridgeEnvSchema, pool: PoolEnvSchema };

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const manifests = filesUnder(deploy).filter((path) => /\.ya?ml$/u.test(path));
const dockerfiles = filesUnder(deploy).filter((path) => path.endsWith("Dockerfile"));
const projectTemplate = join(deploy, "k8s", "knative", "project-peer.yaml");

/** A parsed manifest: free-form YAML, read field by field. */
type Manifest = any;
type EnvVar = { name: string; value?: string; valueFrom?: unknown };
type Container = { name: string; command?: string[]; env?: EnvVar[]; envFrom?: unknown[]; ports?: unknown[]; readinessProbe?: Manifest };

/** A file's documents; the project template as deploy/README.md renders it (its ids must be valid ones). */
const documentsOf = (path: string): Manifest[] => {
  const text = readFileSync(path, "utf8");
  const rendered = path.endsWith(join("knative", "project-peer.yaml")) ? text.replaceAll("{project}", "lobby").replaceAll("{user}", "studio") : text;
  return parseAllDocuments(rendered).map((document) => document.toJS() as Manifest);
};

/**
 * Every container a document runs, wherever its kind keeps them: a Deployment's and a Knative
 * Service's spec.template.spec, a CronJob's jobTemplate, a Pod's spec, init containers.
 */
function containersIn(node: unknown): Container[] {
  if (Array.isArray(node)) return node.flatMap(containersIn);
  if (node === null || typeof node !== "object") return [];
  return Object.entries(node).flatMap(([key, value]) =>
    (key === "containers" || key === "initContainers") && Array.isArray(value) ? (value as Container[]) : containersIn(value),
  );
}

/** The variables a container sets to a literal value (not those read from a Secret). */
const literalEnv = (container: Container): Record<string, string> =>
  Object.fromEntries((container.env ?? []).flatMap(({ name, value }) => (value === undefined ? [] : [[name, String(value)]])));

/** The service whose build output a script is: `services/<service>/dist/…`. */
const serviceOf = (script: string) => /^services\/([^/]+)\/dist\//u.exec(script)?.[1] ?? "";

/** `node services/x/dist/main.js` runs a build output: its source exists and the build emits dist from src. */
function isBuildOutput(script: string): boolean {
  const match = /^services\/([^/]+)\/dist\/(.+)\.js$/u.exec(script);
  if (!match) return false;
  const [, service, file] = match;
  const build = JSON.parse(readFileSync(join(root, "services", service!, "tsconfig.build.json"), "utf8")) as { compilerOptions: { outDir: string; rootDir: string } };
  return build.compilerOptions.outDir === "dist" && build.compilerOptions.rootDir === "src" && existsSync(join(root, "services", service!, "src", `${file}.ts`));
}

/** The files a kustomization applies, through the kustomizations it includes. */
function kustomizedFiles(folder: string): string[] {
  const { resources = [] } = parse(readFileSync(join(folder, "kustomization.yaml"), "utf8")) as { resources?: string[] };
  return resources.flatMap((resource) => {
    const path = join(folder, resource);
    return existsSync(path) && statSync(path).isDirectory() ? kustomizedFiles(path) : [path];
  });
}

test("every manifest in deploy/ parses", () => {
  expect(manifests.length).toBeGreaterThan(3);
  for (const path of manifests) {
    for (const document of parseAllDocuments(readFileSync(path, "utf8"))) {
      expect(document.errors, relative(root, path)).toEqual([]);
    }
  }
});

test("containers set only variables their service reads, with values it accepts, and run its build output", () => {
  const checked: string[] = [];
  for (const path of manifests) {
    for (const container of documentsOf(path).flatMap(containersIn)) {
      const where = `${relative(root, path)}: container ${container.name}`;
      expect(container.command?.[0], where).toBe("node");
      const script = container.command![1]!;
      expect(isBuildOutput(script), `${where} runs ${script}`).toBe(true);
      const service = serviceOf(script);
      const schema = ENV_SCHEMAS[service];
      expect(schema, `${where}: ${service} has no environment schema here`).toBeDefined();
      expect(container.name, `${where} runs ${service}`).toBe(service);
      // A whole Secret or ConfigMap as variables: nothing could check their names.
      expect(container.envFrom, `${where}: envFrom`).toBeUndefined();
      for (const { name } of container.env ?? []) expect(name in schema!.shape, `${where}: ${service} does not read ${name}`).toBe(true);
      const parsed = schema!.safeParse(literalEnv(container));
      expect(parsed.success, `${where}: ${parsed.error?.message}`).toBe(true);
      checked.push(`${relative(deploy, path)}: ${container.name}`);
    }
  }
  // Every shape is found: Deployments, and the Knative Service of a project's peer.
  expect(checked).toEqual(
    expect.arrayContaining([
      "k8s/gateway.yaml: gateway",
      "k8s/bridge.yaml: bridge",
      "k8s/farm-pool.yaml: bridge",
      "k8s/knative/pool.yaml: pool",
      "k8s/knative/project-peer.yaml: bridge",
    ]),
  );
});

test("the gateway's manifest configures a way to verify tokens, and no dev mode", () => {
  const [gateway] = documentsOf(join(deploy, "k8s", "gateway.yaml")).flatMap(containersIn);
  // A value read from a Secret (e.g. FABRIC_JWT_SECRET) stands in as a fit placeholder.
  const fromSecrets = Object.fromEntries((gateway!.env ?? []).filter(({ valueFrom }) => valueFrom !== undefined).map(({ name }) => [name, "p".repeat(64)]));
  // readGatewayEnv is what refuses to start without FABRIC_JWT_SECRET or JWKS outside dev mode.
  expect(readGatewayEnv({ ...literalEnv(gateway!), ...fromSecrets }).FABRIC_DEV_MODE).toBe(false);
});

test("NATS is pinned to a supported release: 2.12.6 or later (2.9.x has unfixed CVEs)", () => {
  const minimum = "2.12.6";
  const values = parse(readFileSync(join(deploy, "k8s", "nats-values.yaml"), "utf8")) as Manifest;
  const image = values.container.image as { repository: string; tag: string };
  expect(image.repository).toBe("nats");
  expect(parseServerVersion(image.tag), `a version, not ${image.tag}`).toBeDefined();
  expect(isOlderServerVersion(image.tag, minimum), `nats:${image.tag}`).toBe(false);
  // The chart the README installs ships the same version (its appVersion).
  const installs = [...readFileSync(join(deploy, "README.md"), "utf8").matchAll(/helm install nats nats\/nats --version (\S+)/gu)].map((match) => match[1]!);
  expect(installs.length).toBeGreaterThan(0);
  for (const chart of installs) expect(isOlderServerVersion(chart, minimum), `chart ${chart}`).toBe(false);
});

test("Dockerfiles set only variables their service reads, and run its build output", () => {
  expect(dockerfiles.map((path) => relative(deploy, path)).sort()).toEqual(["docker/bridge.Dockerfile", "docker/gateway.Dockerfile", "docker/pool.Dockerfile"]);
  for (const path of dockerfiles) {
    const service = /(\w+)\.Dockerfile$/u.exec(path)![1]!;
    const text = readFileSync(path, "utf8");
    const pairs = [...text.matchAll(/^ENV (.+)$/gmu)].flatMap((line) => line[1]!.split(/\s+/u).map((pair) => pair.split("=") as [string, string]));
    for (const [name] of pairs) expect(ENV_SCHEMAS[service]!.shape, `${service}.Dockerfile sets ${name}`).toHaveProperty(name);
    const parsed = ENV_SCHEMAS[service]!.safeParse(Object.fromEntries(pairs));
    expect(parsed.success, `${service}.Dockerfile: ${parsed.error?.message}`).toBe(true);
    const command = JSON.parse(/^CMD (.+)$/mu.exec(text)![1]!) as string[];
    expect(command[0]).toBe("node");
    expect(isBuildOutput(command[1]!), `${service}.Dockerfile runs ${command[1]}`).toBe(true);
    expect(serviceOf(command[1]!)).toBe(service);
  }
});

test("kustomizations list files that exist, and the base one needs no Knative", () => {
  for (const path of manifests.filter((file) => basename(file) === "kustomization.yaml")) {
    for (const file of kustomizedFiles(dirname(path))) expect(existsSync(file), `${relative(root, path)} lists ${relative(root, file)}`).toBe(true);
  }
  // A cluster without Knative has no serving.knative.dev types: the base applies none of them.
  const base = kustomizedFiles(join(deploy, "k8s"));
  const apiVersions = base.flatMap(documentsOf).map((document) => String(document?.apiVersion));
  expect(apiVersions.filter((apiVersion) => apiVersion.startsWith("serving.knative.dev"))).toEqual([]);
  expect(base).not.toContain(projectTemplate);
});

/** KEDA's scalers in a file, with the pod template each one starts (a ScaledJob's own, a ScaledObject's Deployment's). */
function scalersIn(documents: Manifest[]): { scaler: Manifest; pod: Manifest }[] {
  return documents.flatMap((document) => {
    if (document?.kind === "ScaledJob") return [{ scaler: document, pod: document.spec.jobTargetRef.template }];
    if (document?.kind !== "ScaledObject") return [];
    const target = documents.find((candidate) => candidate?.kind === "Deployment" && candidate.metadata.name === document.spec.scaleTargetRef.name);
    return [{ scaler: document, pod: target?.spec.template }];
  });
}

test("each KEDA scaler watches the farm consumers of the bridges it starts", () => {
  const watchedSources: string[] = [];
  for (const path of manifests) {
    for (const { scaler, pod } of scalersIn(documentsOf(path))) {
      const where = `${relative(root, path)}: ${scaler.kind} ${scaler.metadata.name}`;
      expect(pod, `${where} starts a pod of the same file`).toBeDefined();
      const [bridge] = containersIn(pod);
      const env = readBridgeEnv(literalEnv(bridge!));
      const group = env.FABRIC_GROUP_ID;
      // Without a group the consumers are the tenant's farm pool, which only farm workers drain.
      if (group === undefined) expect(env.FABRIC_FARM_WORKER, `${where}: its bridges are farm workers`).toBe(true);
      const expected = FARM_PRIORITIES.map((priority) => (group === undefined ? consumerForUserFarm(env.FABRIC_USER, priority) : consumerForGroup(env.FABRIC_USER, group, priority)));
      for (const trigger of scaler.spec.triggers as Manifest[]) {
        expect(trigger.type, where).toBe("nats-jetstream");
        expect(trigger.metadata.stream, where).toBe(StreamName.Work);
      }
      const watched = (scaler.spec.triggers as Manifest[]).map((trigger) => String(trigger.metadata.consumer));
      expect(watched.sort(), `${where} watches the consumers of ${env.FABRIC_USER}'s ${group ?? "farm pool"}`).toEqual(expected.sort());
      expect(scaler.spec.minReplicaCount, `${where} scales to zero`).toBe(0);
      watchedSources.push(group === undefined ? "farm pool" : "group");
    }
  }
  expect(watchedSources.sort()).toEqual(["farm pool", "group"]);
});

test("farm bridges run one per task and are never stopped by scaling mid-task", () => {
  let checked = 0;
  for (const path of manifests) {
    for (const { scaler, pod } of scalersIn(documentsOf(path))) {
      const where = `${relative(root, path)}: ${scaler.kind} ${scaler.metadata.name}`;
      // A Deployment scaled down loses whichever pods the ReplicaSet picks, busy or not.
      expect(scaler.kind, `${where}: KEDA never deletes a running Job`).toBe("ScaledJob");
      expect(scaler.spec.rollout?.strategy, `${where}: an update leaves running Jobs alone`).toBe("gradual");
      expect(pod.spec.restartPolicy).toBe("Never");
      // One Job per task over all priorities: lag (pending + unacknowledged) / 1, added up.
      expect(scaler.spec.scalingStrategy).toMatchObject({ strategy: "default", multipleScalersCalculation: "sum" });
      for (const trigger of scaler.spec.triggers as Manifest[]) expect(trigger.metadata.lagThreshold, where).toBe("1");
      const env = readBridgeEnv(literalEnv(containersIn(pod)[0]!));
      // A Job ends when its bridge has had nothing to do for a while.
      expect(env.FABRIC_IDLE_SECONDS, `${where}: the bridge exits when idle`).toBeGreaterThan(0);
      // A group's bridges take only the group's tasks, which is what their scaler counts.
      if (env.FABRIC_GROUP_ID !== undefined) expect(env.FABRIC_FARM_WORKER, where).toBe(false);
      // Told to stop (a node drain), the bridge may take FABRIC_DRAIN_SECONDS, then leave the bus.
      expect(pod.spec.terminationGracePeriodSeconds, where).toBeGreaterThanOrEqual(env.FABRIC_DRAIN_SECONDS + 30);
      checked += 1;
    }
  }
  expect(checked).toBe(2);
});

/** Every string value in a manifest, with where it is. */
function stringsIn(node: unknown, path = ""): { path: string; value: string }[] {
  if (typeof node === "string") return [{ path, value: node }];
  if (node === null || typeof node !== "object") return [];
  return Object.entries(node).flatMap(([key, value]) => stringsIn(value, `${path}/${key}`));
}

test("no manifest carries a placeholder, and KEDA reads the NATS account's id from a Secret", () => {
  const base = kustomizedFiles(join(deploy, "k8s")).flatMap(documentsOf);
  for (const path of manifests) {
    for (const document of documentsOf(path)) {
      for (const { path: at, value } of stringsIn(document)) {
        // A name of the kind FABRIC_ACCOUNT_PUBLIC_KEY where a value goes (env names and the stream name aside).
        if (at.endsWith("/name") || value === StreamName.Work) continue;
        expect(value, `${relative(root, path)}${at}`).not.toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$|^<[^>]*>$|\bREPLACE|\bCHANGE_?ME/u);
      }
    }
    for (const { scaler } of scalersIn(documentsOf(path))) {
      for (const trigger of scaler.spec.triggers as Manifest[]) {
        const where = `${relative(root, path)}: ${scaler.metadata.name}`;
        expect(trigger.metadata.account, where).toBeUndefined();
        expect(trigger.metadata.accountID, where).toBeUndefined();
        const authentication = base.find((document) => document?.kind === "TriggerAuthentication" && document.metadata.name === trigger.authenticationRef?.name);
        expect(authentication, `${where}: its TriggerAuthentication is applied with it`).toBeDefined();
        expect(authentication.spec.secretTargetRef.map((reference: Manifest) => reference.parameter)).toEqual(["accountID"]);
      }
    }
  }
  // deploy/README.md makes that Secret.
  const { name, key } = base.find((document) => document?.kind === "TriggerAuthentication").spec.secretTargetRef[0];
  expect(readFileSync(join(deploy, "README.md"), "utf8")).toContain(`create secret generic ${name} --from-file=${key}=`);
});

test("images carry no secrets, run as a non-root user, on Node 22; the bridge's Blender has numpy", () => {
  const ignored = readFileSync(join(root, ".dockerignore"), "utf8").split("\n").map((line) => line.trim());
  // The folders the READMEs tell operators to fill (nats-setup --out secrets/, deploy/nats/secrets), npm start's .fabric.
  for (const pattern of ["secrets", "**/secrets", ".fabric", "**/.fabric", "**/*.creds", "**/*.seed", "**/accounts.json"]) expect(ignored).toContain(pattern);
  expect(readFileSync(join(root, ".gitignore"), "utf8").split("\n")).toEqual(expect.arrayContaining(["secrets/", "**/secrets/", "*.creds"]));
  for (const path of dockerfiles) {
    const text = readFileSync(path, "utf8");
    const where = relative(root, path);
    for (const [, image] of text.matchAll(/^FROM (\S+)/gmu)) expect(image, where).toMatch(/^node:22-/u);
    // The final stage takes only the runtime tree the build stage made, never the build's /app.
    const final = text.slice(text.lastIndexOf("\nFROM "));
    expect([...final.matchAll(/^COPY (.+)$/gmu)].map((match) => match[1]), where).toEqual(["--from=build /runtime /app"]);
    const user = /^USER (\d+)(?::(\d+))?$/mu.exec(final);
    expect(user, `${where}: a numeric USER (the kubelet checks runAsNonRoot by number)`).not.toBeNull();
    expect(Number(user![1])).toBeGreaterThan(0);
  }
  expect(readFileSync(join(deploy, "docker", "bridge.Dockerfile"), "utf8")).toMatch(/apt-get install [^\n]*\bblender\b[^\n]*\bpython3-numpy\b/u);
});

test("a project's peer saves its scene while it works, and its README says so", () => {
  const [bridge] = documentsOf(projectTemplate).flatMap(containersIn);
  const env = literalEnv(bridge!);
  expect(env.FABRIC_PROJECT_SAVE_SECONDS, "said in the manifest, not left to a default").toBeDefined();
  const saveSeconds = readBridgeEnv(env).FABRIC_PROJECT_SAVE_SECONDS;
  expect(saveSeconds).toBeGreaterThan(0);
  expect(readFileSync(join(deploy, "README.md"), "utf8")).toContain(`every ${saveSeconds} s`);
});

test("the pool wakes a project at the Knative Service its template makes, which runs at most one peer of it", () => {
  const [pool] = documentsOf(join(deploy, "k8s", "knative", "pool.yaml")).flatMap(containersIn);
  const poolEnv = PoolEnvSchema.parse(literalEnv(pool!));
  expect(poolEnv.FABRIC_POOL_LAUNCHER).toBe("knative");
  const wake = new URL(new KnativeWaker(poolEnv.FABRIC_POOL_KNATIVE_URL, createLogger("manifests-test", "silent")).urlFor("studio", "lobby"));

  // As deploy/README.md makes a project's Service: sed, one placeholder each.
  const rendered = readFileSync(projectTemplate, "utf8").replaceAll("{project}", "lobby").replaceAll("{user}", "studio");
  expect(rendered, "no placeholder is left").not.toMatch(/\{[a-z_]+\}/u);
  const [service, ...others] = parseAllDocuments(rendered).map((document) => document.toJS() as Manifest);
  expect(others).toEqual([]);
  expect([service.apiVersion, service.kind]).toEqual(["serving.knative.dev/v1", "Service"]);
  expect(service.metadata.name, "a DNS-1035 label").toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/u);
  const { namespace } = parse(readFileSync(join(deploy, "k8s", "knative", "kustomization.yaml"), "utf8")) as { namespace: string };
  expect(wake.hostname).toBe(`${service.metadata.name}.${namespace}.svc.cluster.local`);

  const revision = service.spec.template;
  expect(revision.metadata.annotations["autoscaling.knative.dev/min-scale"]).toBe("0");
  expect(revision.metadata.annotations["autoscaling.knative.dev/max-scale"], "two peers never share a project").toBe("1");
  const [bridge] = containersIn(service);
  const env = readBridgeEnv(literalEnv(bridge!));
  expect([env.FABRIC_USER, env.FABRIC_PROJECT_ID]).toEqual(["studio", "lobby"]);
  expect(env.FABRIC_IDLE_SECONDS, "Knative decides when the peer is idle").toBe(0);
  expect(env.FABRIC_FARM_WORKER).toBe(false);
  // Knative routes the wake to the one container port, where the bridge's health server answers.
  expect(bridge!.ports).toEqual([{ name: "http1", containerPort: env.FABRIC_HEALTH_PORT }]);
  expect(env.FABRIC_HEALTH_HOST).toBe("0.0.0.0");
  expect(bridge!.readinessProbe.httpGet.path).toBe(wake.pathname);
  // Knative's termination grace period is timeoutSeconds: the drain must end before it, with time to save.
  expect(env.FABRIC_DRAIN_SECONDS).toBeLessThan(revision.spec.timeoutSeconds);
});
