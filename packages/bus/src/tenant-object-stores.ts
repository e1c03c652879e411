/**
 * One Object Store bucket per tenant (`<base>_<tenant digest>`), opened on first use. An
 * Object Store keeps its chunks under `$O.<bucket>.C.<nuid>`, a subject that names no object
 * and no tenant, so a NATS permission can only scope a tenant to whole buckets: with one
 * bucket each, a peer's credential can be limited to its own tenant's files (DESIGN.md
 * section 9). It also keeps listing one tenant's files from reading everyone's, and tells
 * what each tenant stores (its stored-bytes quota is checked against that before an upload:
 * a `max_bytes` on every tenant's bucket would be reserved against the server's whole store
 * when the bucket is made, which a few tenants already use up).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { objectStoreForUser } from "@blender-fabric/protocol";
import { retryJetStream } from "./kv-update.js";

export class TenantObjectStores {
  readonly #objm: Objm;
  readonly #base: string;
  readonly #replicas: number;
  readonly #opened = new Map<string, Promise<ObjectStore>>();

  constructor(nc: NatsConnection, base: string, replicas: number) {
    this.#objm = new Objm(nc);
    this.#base = base;
    this.#replicas = replicas;
  }

  /** The bytes a tenant's bucket holds now; 0 when it has none yet (asking does not make one). */
  async storedBytes(userId: string): Promise<number> {
    const bucket = objectStoreForUser(this.#base, userId);
    const store = this.#opened.has(bucket) ? await this.forUser(userId) : await this.#objm.open(bucket).catch(() => undefined);
    return store ? (await store.status()).size : 0;
  }

  /** The tenant's bucket, created on first use (a failed open is tried again next time). */
  forUser(userId: string): Promise<ObjectStore> {
    const bucket = objectStoreForUser(this.#base, userId);
    let store = this.#opened.get(bucket);
    if (!store) {
      store = retryJetStream(`bind the object store ${bucket}`, () => this.#objm.create(bucket, { replicas: this.#replicas }));
      store.catch(() => this.#opened.delete(bucket));
      this.#opened.set(bucket, store);
    }
    return store;
  }
}
