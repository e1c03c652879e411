// Issue 17 (deploy/): every project id the fabric accepts (packages/protocol/src/project.ts) makes
// a host the pool can wake, from the FABRIC_POOL_KNATIVE_URL that deploy/k8s/knative/pool.yaml
// sets, and Kubernetes names that the API server accepts from project-peer.yaml's `{project}`.
// The ids tried are the rule's edges (every length, every kind of character at each end) and a
// few hundred drawn at random from it.
import { expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { MAX_PROJECT_ID_LENGTH, isValidProjectId } from "@blender-fabric/protocol";
import { PoolEnvSchema } from "../../services/pool/src/env.js";
import { KnativeWaker } from "../../services/pool/src/knative-waker.js";
import { createLogger } from "../../services/pool/src/logger.js";

const knative = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "deploy", "k8s", "knative");
const documentsOf = (text: string): any[] => parseAllDocuments(text).map((document) => document.toJS());

/** RFC 1123 label (Kubernetes' DNS label): a-z, 0-9, '-', alphanumeric at both ends, at most 63. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/u;
/** DNS-1035 label: a Service's name, which must also start with a letter. */
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/u;
/** A label's value: at most 63 characters, alphanumeric at both ends, '-', '_', '.' inside. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/u;
const isDnsName = (host: string) => host.length <= 253 && host.split(".").every((label) => DNS_LABEL.test(label));

function projectIds(): string[] {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const inner = `${letters}0123456789-`;
  const ends = `${letters}0123456789`;
  const edges = Array.from({ length: MAX_PROJECT_ID_LENGTH }, (_, index) => index + 1).flatMap((length) =>
    length === 1 ? ["a", "z"] : [`a${"-".repeat(length - 2)}9`.slice(0, length), `z${"9".repeat(length - 1)}`, `${"m".repeat(length)}`],
  );
  let seed = 17;
  const random = (below: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % below;
  };
  const drawn = Array.from({ length: 400 }, () => {
    const length = 1 + random(MAX_PROJECT_ID_LENGTH);
    if (length === 1) return letters[random(26)]!;
    return letters[random(26)]! + Array.from({ length: length - 2 }, () => inner[random(inner.length)]).join("") + ends[random(ends.length)]!;
  });
  return [...edges, ...drawn];
}

const ids = projectIds();

test("the ids tried are all ones the fabric accepts, up to the longest", () => {
  expect(ids.every(isValidProjectId)).toBe(true);
  expect(Math.max(...ids.map((id) => id.length))).toBe(MAX_PROJECT_ID_LENGTH);
  expect(isValidProjectId("a".repeat(MAX_PROJECT_ID_LENGTH + 1))).toBe(false);
});

test("the pool's wake URL for every accepted project id has a valid DNS host, naming the project's Service", () => {
  const [pool] = documentsOf(readFileSync(join(knative, "pool.yaml"), "utf8"));
  const container = pool.spec.template.spec.containers[0];
  const env = PoolEnvSchema.parse(Object.fromEntries(container.env.filter((item: { value?: string }) => item.value !== undefined).map((item: { name: string; value: string }) => [item.name, item.value])));
  const waker = new KnativeWaker(env.FABRIC_POOL_KNATIVE_URL, createLogger("project-ids-test", "silent"));
  for (const id of ids) {
    const host = new URL(waker.urlFor("studio", id)).hostname;
    expect(isDnsName(host), `${id}: ${host}`).toBe(true);
    expect(host.split(".")[0]!.length, id).toBeLessThanOrEqual(63);
    expect(host.split(".")[0], id).toBe(`blender-${id}`);
  }
});

test("project-peer.yaml with any accepted project id makes names Kubernetes accepts, with room for Knative's revisions", () => {
  const template = readFileSync(join(knative, "project-peer.yaml"), "utf8");
  for (const id of ids) {
    const [service] = documentsOf(template.replaceAll("{project}", id).replaceAll("{user}", "studio"));
    const name = service.metadata.name as string;
    expect(name, id).toMatch(DNS_1035_LABEL);
    // Knative names the revisions <service>-00001, which must be DNS labels too.
    expect(`${name}-00001`, id).toMatch(DNS_LABEL);
    for (const [key, value] of Object.entries(service.spec.template.metadata.labels as Record<string, string>)) expect(value, `${id}: label ${key}`).toMatch(LABEL_VALUE);
  }
});
