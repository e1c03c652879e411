/**
 * The NATS cluster the chart makes (nats-chart.ts), run as real nats-server processes on this
 * machine, with a model of the Kubernetes network around it. Each pod gets a loopback address
 * of its own (127.0.0.2, .3, …: a pod IP) and a folder standing for its filesystem, where the
 * chart's config sits at /etc/nats-config/nats.conf and each Secret at its mount path, so an
 * include resolves as it does in the pod.
 *
 * The rendered config runs as the chart renders it but for what the pod network gives a pod and
 * this machine cannot: every pod binds its own address (`host`, `cluster.host`; in a pod,
 * 0.0.0.0), ports are free ones (the same for every pod, as in the chart), a route names the
 * pod's address where the chart names its DNS name, and absolute paths lie under the pod's
 * folder. `resolve` plays the cluster DNS and the Services: it maps a Service or pod name and
 * a Service port to the local address and port, or throws as a lookup or connection would.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { findFreePort, findProgram, spawnTracked, stopChild, waitFor } from "@blender-fabric/testkit";
import { CONFIG_FILE, chartConfig, chartPodFiles, chartServices, formatConfig, type ChartRelease } from "./nats-chart.js";

/** Secret name → file name → contents: what `kubectl create secret … --from-file` stored. */
export type Secrets = Record<string, Record<string, string>>;

export type ChartPod = { name: string; address: string; root: string };

export type ChartCluster = AsyncDisposable & {
  pods: ChartPod[];
  /** Local port of each container port of the chart (nats, cluster, monitor). */
  ports: Record<"nats" | "cluster" | "monitor", number>;
  /** host:port as a pod in `namespace` dials it → the local address:port, or throws. */
  resolve(host: string, port: number): { address: string; port: number };
  /** A URL of the cluster's names (nats://nats:4222, http://nats-headless…:8222/jsz) made local. */
  localUrl(url: string): string;
  /** The route URL a pod's /varz shows for a local one, written as the chart wrote it. */
  chartRouteOf(localRoute: string): string;
  stop(): Promise<void>;
};

const podAddress = (index: number) => `127.0.0.${index + 2}`;

function portFree(port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, address, () => server.close(() => resolve(true)));
  });
}

/** Three ports, each free on every pod address. */
async function podPorts(pods: number): Promise<Record<"nats" | "cluster" | "monitor", number>> {
  const chosen: number[] = [];
  while (chosen.length < 3) {
    const port = await findFreePort();
    if (chosen.includes(port)) continue;
    const free = await Promise.all(Array.from({ length: pods }, (_, index) => portFree(port, podAddress(index))));
    if (free.every(Boolean)) chosen.push(port);
  }
  return { nats: chosen[0]!, cluster: chosen[1]!, monitor: chosen[2]! };
}

/** The chart's rendered config, with only what the pod network gives changed (see the top). */
function localizedConfig(release: ChartRelease, pod: ChartPod, ports: ChartCluster["ports"], addressOfRouteHost: (host: string) => string): string {
  const config = structuredClone(chartConfig(release));
  const expect = (what: string, actual: unknown, wanted: unknown) => {
    if (actual !== wanted) throw new Error(`the chart's ${what} is ${String(actual)}, not ${String(wanted)}: the model here needs updating`);
  };
  expect("port", config.port, release.values.config.nats.port);
  expect("http_port", config.http_port, release.values.config.monitor.port);
  expect("cluster port", config.cluster.port, release.values.config.cluster.port);
  config.host = pod.address;
  config.port = ports.nats;
  config.http_port = ports.monitor;
  config.cluster.host = pod.address;
  config.cluster.port = ports.cluster;
  config.cluster.routes = (config.cluster.routes as string[]).map((route) => {
    const url = new URL(route);
    return `${url.protocol}//${addressOfRouteHost(url.hostname)}:${ports.cluster}`;
  });
  config.pid_file = join(pod.root, config.pid_file);
  config.jetstream.store_dir = join(pod.root, config.jetstream.store_dir);
  return formatConfig(config);
}

export async function startChartCluster(release: ChartRelease, secrets: Secrets): Promise<ChartCluster> {
  const { names, namespace } = release;
  const replicas = release.values.config.cluster.replicas as number;
  const base = mkdtempSync(join(tmpdir(), "fabric-chart-"));
  const pods: ChartPod[] = Array.from({ length: replicas }, (_, index) => ({ name: `${names.statefulSet}-${index}`, address: podAddress(index), root: join(base, `${names.statefulSet}-${index}`) }));
  const ports = await podPorts(replicas);
  const services = chartServices(release);
  const containerPortOf = (name: string) => release.values.config[name === "nats" ? "nats" : name].port as number;
  const localPortOf = (containerPort: number) => {
    const entry = (Object.keys(ports) as (keyof typeof ports)[]).find((name) => containerPortOf(name) === containerPort);
    if (!entry) throw new Error(`connection refused: no container port ${containerPort}`);
    return ports[entry];
  };

  /** Cluster DNS in `namespace`: <service>[.<ns>[.svc[.cluster.local]]], and <pod>.<headless service>…. */
  const resolve = (host: string, port: number) => {
    const suffixes = ["", `.${namespace}`, `.${namespace}.svc`, `.${namespace}.svc.cluster.local`];
    for (const service of services) {
      for (const suffix of suffixes) {
        if (host === `${service.name}${suffix}`) {
          // A ClusterIP Service forwards only its own ports; a headless name is the pods' addresses.
          if (!service.headless && !service.ports.some((servicePort) => servicePort.port === port)) {
            throw new Error(`connection refused: Service ${service.name} has no port ${port}`);
          }
          return { address: pods[0]!.address, port: localPortOf(port) };
        }
        const pod = service.headless ? pods.find((candidate) => host === `${candidate.name}.${service.name}${suffix}`) : undefined;
        if (pod) return { address: pod.address, port: localPortOf(port) };
      }
    }
    throw new Error(`getaddrinfo ENOTFOUND ${host}`);
  };
  const localUrl = (url: string) => {
    const parsed = new URL(url);
    const local = resolve(parsed.hostname, Number(parsed.port));
    return url.replace(`${parsed.hostname}:${parsed.port}`, `${local.address}:${local.port}`);
  };
  const addressOfRouteHost = (host: string) => resolve(host, release.values.config.cluster.port).address;
  const routeHostOf = new Map(pods.map((pod) => [`${pod.address}:${ports.cluster}`, `${pod.name}.${names.headlessService}:${release.values.config.cluster.port}`]));

  const { mounts, volumes } = chartPodFiles(release);
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map((child) => stopChild(child)));
    rmSync(base, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      pods.map(async (pod) => {
        const configFile = join(pod.root, CONFIG_FILE);
        mkdirSync(dirname(configFile), { recursive: true });
        writeFileSync(configFile, localizedConfig(release, pod, ports, addressOfRouteHost));
        for (const mount of mounts) {
          mkdirSync(join(pod.root, mount.mountPath), { recursive: true });
          const secretName = volumes.find((volume) => volume.name === mount.name)?.secret?.secretName;
          if (secretName === undefined) continue;
          const files = secrets[secretName];
          if (!files) throw new Error(`the pod mounts Secret ${secretName}, which was not made`);
          for (const [file, text] of Object.entries(files)) writeFileSync(join(pod.root, mount.mountPath, file), text);
        }
        // The chart's container: `nats-server --config /etc/nats-config/nats.conf`, SERVER_NAME = the pod's name.
        const child = spawnTracked(findProgram("nats-server"), ["--config", configFile], {
          stdio: ["ignore", "ignore", "pipe"],
          env: { ...process.env, SERVER_NAME: `${release.values.config.serverNamePrefix}${pod.name}` },
        });
        children.push(child);
        let log = "";
        child.stderr?.on("data", (chunk: Buffer) => {
          log = (log + chunk.toString()).slice(-8_000);
        });
        const exited = new Promise<never>((_resolve, reject) => child.once("exit", () => reject(new Error(`nats-server of pod ${pod.name} exited:\n${log}`))));
        // Its exit at stop() is expected: only an exit before "ready" is a failure.
        exited.catch(() => {});
        await Promise.race([waitFor(`nats-server of pod ${pod.name}`, () => log.includes("Server is ready"), 30_000), exited]);
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pods,
    ports,
    resolve,
    localUrl,
    chartRouteOf: (localRoute) => routeHostOf.get(localRoute) ?? localRoute,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
