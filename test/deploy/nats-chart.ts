/**
 * What the official NATS Helm chart (nats-io/k8s, chart `nats` 2.12.6) makes of a values file,
 * for the parts the fabric relies on: the `nats.conf` of its ConfigMap, its two Services, and
 * the nats container's volume mounts. There is no helm here, so this follows the chart's
 * templates by hand:
 *   files/config/config.yaml, cluster.yaml, jetstream.yaml  the config, as YAML, then
 *     nats.loadMergePatch: config.merge laid over it (Sprig mergeOverwrite, deep)
 *   templates/_helpers.tpl nats.formatConfig  toPrettyJson (keys sorted, 2 spaces), then a key
 *     ending in `$include` becomes `include <path>;`, and "<< x >>" becomes x unquoted
 *   files/service.yaml, files/headless-service.yaml  which ports each Service has
 *   files/stateful-set/nats-container.yaml, pod-template.yaml  mounts, volumes, with the
 *     values' JSON patches (only `add`, the one op the fabric's values use)
 * Options the fabric's values do not set are refused rather than guessed at.
 */

/** The chart's defaults (values.yaml of 2.12.6) for the keys rendered here. */
const CHART_DEFAULTS = {
  config: {
    cluster: { enabled: false, port: 6222, replicas: 3, noAdvertise: true, routeURLs: { useFQDN: false, k8sClusterDomain: "cluster.local" }, merge: {}, patch: [] },
    jetstream: {
      enabled: false,
      fileStore: { enabled: true, dir: "/data", pvc: { enabled: true, size: "10Gi" }, maxSize: null },
      memoryStore: { enabled: false, maxSize: "1Gi" },
      merge: {},
      patch: [],
    },
    nats: { port: 4222, tls: { enabled: false } },
    monitor: { enabled: true, port: 8222, tls: { enabled: false } },
    serverNamePrefix: "",
    merge: {},
    patch: [],
  },
  container: { patch: [] },
  podTemplate: { patch: [] },
  service: { ports: { nats: { enabled: true }, monitor: { enabled: false }, cluster: { enabled: false } } },
};

type Values = Record<string, any>;
type JsonPatch = { op: string; path: string; value?: unknown }[];

const isMap = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/** Helm's values merge, and Sprig's mergeOverwrite: maps merge key by key, anything else replaces. */
function deepMerge(base: Values, over: Values): Values {
  const merged: Values = { ...base };
  for (const [key, value] of Object.entries(over)) merged[key] = isMap(value) && isMap(base[key]) ? deepMerge(base[key], value) : value;
  return merged;
}

/** The chart's names for a release (`nats.fullname`: the release name when it contains "nats"). */
export function chartNames(release: string) {
  const fullName = release.includes("nats") ? release : `${release}-nats`;
  return { statefulSet: fullName, service: fullName, headlessService: `${fullName}-headless`, configMap: `${fullName}-config` };
}

export type ChartRelease = { values: Values; release: string; namespace: string; names: ReturnType<typeof chartNames> };

export function chartRelease(userValues: Values, release: string, namespace: string): ChartRelease {
  return { values: deepMerge(CHART_DEFAULTS, userValues), release, namespace, names: chartNames(release) };
}

function refuseUnsupported(values: Values): void {
  const { config } = values;
  for (const [where, patch] of [["config.patch", config.patch], ["config.cluster.patch", config.cluster.patch], ["config.jetstream.patch", config.jetstream.patch]] as const) {
    if ((patch as unknown[]).length > 0) throw new Error(`${where} is not rendered here`);
  }
  for (const [where, merge] of [["config.cluster.merge", config.cluster.merge], ["config.jetstream.merge", config.jetstream.merge]] as const) {
    if (Object.keys(merge as object).length > 0) throw new Error(`${where} is not rendered here`);
  }
  if (config.nats.tls.enabled || config.monitor.tls.enabled || config.cluster.routeURLs.user) throw new Error("TLS and route credentials are not rendered here");
  for (const section of ["leafnodes", "websocket", "mqtt", "gateway", "resolver", "profiling"]) {
    if (config[section]?.enabled) throw new Error(`config.${section} is not rendered here`);
  }
}

/** The config as the chart builds it before formatting: files/config/*.yaml, then config.merge. */
export function chartConfig({ values, names, namespace }: ChartRelease): Values {
  refuseUnsupported(values);
  const { config } = values;
  const rendered: Values = {
    server_name: "<< $SERVER_NAME >>",
    lame_duck_grace_period: "10s",
    lame_duck_duration: "30s",
    pid_file: "/var/run/nats/nats.pid",
    port: config.nats.port,
  };
  if (config.cluster.enabled) {
    const domain = config.cluster.routeURLs.useFQDN ? `${names.headlessService}.${namespace}.svc.${config.cluster.routeURLs.k8sClusterDomain}` : names.headlessService;
    rendered.cluster = {
      name: names.statefulSet,
      port: config.cluster.port,
      no_advertise: config.cluster.noAdvertise,
      routes: Array.from({ length: config.cluster.replicas }, (_, index) => `nats://${names.statefulSet}-${index}.${domain}:${config.cluster.port}`),
    };
  }
  if (config.monitor.enabled) rendered.http_port = config.monitor.port;
  if (config.jetstream.enabled) {
    const { fileStore, memoryStore } = config.jetstream;
    const jetstream: Values = {};
    if (memoryStore.enabled) {
      if (memoryStore.maxSize) jetstream.max_memory_store = `<< ${memoryStore.maxSize} >>`;
    } else jetstream.max_memory_store = 0;
    if (fileStore.enabled) {
      jetstream.store_dir = fileStore.dir;
      if (fileStore.maxSize) jetstream.max_file_store = `<< ${fileStore.maxSize} >>`;
      else if (fileStore.pvc.enabled) jetstream.max_file_store = `<< ${fileStore.pvc.size} >>`;
    } else jetstream.max_file_store = 0;
    rendered.jetstream = jetstream;
  }
  return deepMerge(rendered, config.merge);
}

/** Go's json.MarshalIndent of a map: keys sorted, two spaces. */
const prettyJson = (value: unknown): string =>
  JSON.stringify(value, (_key, item: unknown) => (isMap(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item), 2);

/** nats.formatConfig: the text of nats.conf. */
export function formatConfig(config: Values): string {
  return prettyJson(config)
    .replace(/".*\$include": "(.*)",?/gu, "include $1;")
    .replace(/"<<\s+(.*?)\s+>>"/gu, "$1");
}

/** Where the chart's nats container reads its config (`--config`). */
export const CONFIG_FILE = "/etc/nats-config/nats.conf";

export type Mount = { name: string; mountPath: string };
export type Volume = { name: string; secret?: { secretName: string }; configMap?: { name: string } };

/** RFC 6902 `add`, the only op the fabric's values use; `-` appends to a list. */
function applyAdds<T>(document: T, patch: JsonPatch): T {
  const copy = structuredClone(document) as any;
  for (const { op, path, value } of patch) {
    if (op !== "add") throw new Error(`patch op ${op} is not rendered here`);
    const keys = path.split("/").slice(1);
    const last = keys.pop()!;
    const parent = keys.reduce((node, key) => node[key], copy);
    if (Array.isArray(parent)) parent.splice(last === "-" ? parent.length : Number(last), 0, value);
    else parent[last] = value;
  }
  return copy as T;
}

/** The nats container's mounts and the pod's volumes, with the values' patches applied. */
export function chartPodFiles({ values, names }: ChartRelease): { mounts: Mount[]; volumes: Volume[] } {
  const { jetstream } = values.config;
  const mounts: Mount[] = [
    { name: "config", mountPath: "/etc/nats-config" },
    { name: "pid", mountPath: "/var/run/nats" },
    ...(jetstream.enabled && jetstream.fileStore.enabled && jetstream.fileStore.pvc.enabled ? [{ name: `${names.statefulSet}-js`, mountPath: jetstream.fileStore.dir }] : []),
  ];
  const container = applyAdds({ volumeMounts: mounts }, values.container.patch);
  const pod = applyAdds({ spec: { volumes: [{ name: "config", configMap: { name: names.configMap } }, { name: "pid" }] as Volume[] } }, values.podTemplate.patch);
  return { mounts: container.volumeMounts, volumes: pod.spec.volumes };
}

export type ServicePort = { name: string; port: number };
export type ChartService = { name: string; headless: boolean; ports: ServicePort[] };

/** The client Service (ports with service.ports.<p>.enabled) and the headless one (every enabled port). */
export function chartServices({ values, names }: ChartRelease): ChartService[] {
  const { config } = values;
  const protocols = [
    { name: "nats", enabled: true, port: config.nats.port },
    { name: "cluster", enabled: config.cluster.enabled, port: config.cluster.port },
    { name: "monitor", enabled: config.monitor.enabled, port: config.monitor.port },
  ].filter((protocol) => protocol.enabled);
  return [
    { name: names.service, headless: false, ports: protocols.filter((protocol) => values.service.ports[protocol.name]?.enabled).map(({ name, port }) => ({ name, port })) },
    { name: names.headlessService, headless: true, ports: protocols.map(({ name, port }) => ({ name, port })) },
  ];
}
