/**
 * KEDA's nats-jetstream scaler (kedacore/keda pkg/scalers/nats_jetstream_scaler.go, 2.17 to
 * 2.20), followed step by step so a test can ask a real cluster what KEDA would read:
 *   GET <endpoint>/jsz?acc=<accountID>&config=true&consumers=true; if meta_cluster.cluster_size
 *   > 1, GET <endpoint>/varz, and for each node (connect_urls, or else cluster.urls whose first
 *   DNS label is the node's name, asked at <node>.<endpoint>) GET its /jsz until the node that
 *   is the consumer's leader; the lag is that consumer's num_pending + num_ack_pending.
 * `fetchJson` is given cluster-side URLs (the endpoint's names) and plays the pod network.
 */
type Consumer = { name: string; num_pending: number; num_ack_pending: number; cluster?: { leader?: string } };
type Stream = { name: string; consumer_detail?: Consumer[] };
type Account = { id: string; name: string; stream_detail?: Stream[] };
type Jsz = { account_details?: Account[]; meta_cluster?: { cluster_size?: number } };
type Varz = { server_name: string; connect_urls?: string[]; cluster?: { urls?: string[] } };

export type ScalerTrigger = { natsServerMonitoringEndpoint: string; stream: string; consumer: string; account?: string; accountID?: string; useHttps?: string };

/** getNATSJetStreamMonitoringURL: Go's url.Values.Encode sorts the keys. */
export function monitoringUrl(trigger: ScalerTrigger): string {
  const id = trigger.accountID || trigger.account || "";
  const scheme = trigger.useHttps === "true" ? "https" : "http";
  return `${scheme}://${trigger.natsServerMonitoringEndpoint}/jsz?${new URLSearchParams([["acc", id], ["config", "true"], ["consumers", "true"]])}`;
}

const isAccount = (trigger: ScalerTrigger, account: Account) => account.id === (trigger.accountID || trigger.account) || account.name === trigger.account;

function consumerIn(trigger: ScalerTrigger, jsz: Jsz): { stream?: Stream; consumer?: Consumer } {
  for (const account of jsz.account_details ?? []) {
    if (!isAccount(trigger, account)) continue;
    for (const stream of account.stream_detail ?? []) {
      if (stream.name !== trigger.stream) continue;
      return { stream, consumer: stream.consumer_detail?.find((consumer) => consumer.name === trigger.consumer) };
    }
  }
  return {};
}

/**
 * The lag KEDA reports for one trigger. Throws where KEDA 2.20 reports an error (no leader
 * found, or no such consumer); `missing` says what KEDA before 2.20 read instead: 0 when the
 * account or stream was not found, and the stream's last sequence for a missing consumer.
 */
export async function scalerLag(trigger: ScalerTrigger, fetchJson: (url: string) => Promise<unknown>): Promise<number> {
  const url = monitoringUrl(trigger);
  const first = (await fetchJson(url)) as Jsz;
  let found = consumerIn(trigger, first);
  if ((first.meta_cluster?.cluster_size ?? 0) > 1) {
    const endpoint = new URL(url);
    const varz = (await fetchJson(`${endpoint.protocol}//${endpoint.host}/varz`)) as Varz;
    const advertised = (varz.connect_urls ?? []).length > 0;
    const nodes = advertised ? varz.connect_urls! : (varz.cluster?.urls ?? []);
    found = {};
    for (const nodeUrl of nodes) {
      let node: string;
      let nodeMonitoring: string;
      if (advertised) {
        const hostname = nodeUrl.split(":")[0]!;
        node = ((await fetchJson(`${endpoint.protocol}//${hostname}:${endpoint.port}/varz`)) as Varz).server_name;
        nodeMonitoring = `${endpoint.protocol}//${hostname}:${endpoint.port}${endpoint.pathname}${endpoint.search}`;
      } else {
        node = nodeUrl.split(".")[0]!;
        nodeMonitoring = `${endpoint.protocol}//${node}.${endpoint.host}${endpoint.pathname}${endpoint.search}`;
      }
      const candidate = consumerIn(trigger, (await fetchJson(nodeMonitoring)) as Jsz);
      if (candidate.consumer?.cluster?.leader === node) {
        found = candidate;
        break;
      }
    }
    if (!found.consumer) throw new Error(`leader node not found for consumer ${trigger.consumer}`);
  }
  if (!found.stream) throw new Error("stream not found");
  if (!found.consumer) throw new Error(`consumer "${trigger.consumer}" not found in stream "${trigger.stream}"`);
  return found.consumer.num_pending + found.consumer.num_ack_pending;
}

/**
 * How many Jobs a ScaledJob starts (pkg/scaling/scaledjob/metrics.go and executor/scale_jobs.go,
 * strategy `default`): the triggers' queue lengths combined by multipleScalersCalculation,
 * divided by the target (lagThreshold), capped at maxReplicaCount, less the Jobs running.
 */
export function jobsToStart(lags: number[], lagThreshold: number, calculation: "sum" | "max", maxReplicaCount: number, runningJobs: number): number {
  // Only active triggers (lag above activationLagThreshold, 0) count; each one's value is capped first.
  const perTrigger = lags.filter((lag) => lag > 0).map((lag) => Math.min(lag / lagThreshold, maxReplicaCount));
  const combined = calculation === "sum" ? perTrigger.reduce((sum, value) => sum + value, 0) : Math.max(0, ...perTrigger);
  return Math.max(0, Math.ceil(Math.min(combined, maxReplicaCount)) - runningJobs);
}
