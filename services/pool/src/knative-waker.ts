/**
 * In a cluster with Knative (seed 004), a project's peer is a Knative Service that scales
 * from zero on HTTP traffic. The pool does not start it; it wakes it: an HTTP request to the
 * project's URL, which Knative's activator holds until the pod is ready (the bridge's /readyz
 * answers once its Blender is registered). Knative scales to zero after a quiet window even
 * while the pod works through NATS, so the request is repeated while the project's work is
 * outstanding; after that, Knative's idle window ends the pod with SIGTERM, and the bridge
 * saves the project's scene as it leaves.
 */
import type { Logger } from "./logger.js";

/** How often an outstanding project's Service is woken again. ms */
const WAKE_INTERVAL_MS = 10_000;
/** How long one wake waits for Knative to bring the pod up. ms */
const WAKE_TIMEOUT_MS = 120_000;

export class KnativeWaker {
  readonly #urlTemplate: string;
  readonly #logger: Logger;
  /** When each project was last woken. ms since the epoch */
  readonly #lastWake = new Map<string, number>();

  constructor(urlTemplate: string, logger: Logger) {
    if (!urlTemplate.includes("{project}")) throw new Error("FABRIC_POOL_KNATIVE_URL must contain {project}");
    this.#urlTemplate = urlTemplate;
    this.#logger = logger;
  }

  urlFor(userId: string, projectId: string): string {
    return this.#urlTemplate.replaceAll("{user}", encodeURIComponent(userId)).replaceAll("{project}", encodeURIComponent(projectId));
  }

  /** Wakes the project's Service, at most once per interval. */
  wake(userId: string, projectId: string): void {
    const url = this.urlFor(userId, projectId);
    const last = this.#lastWake.get(url) ?? 0;
    if (Date.now() - last < WAKE_INTERVAL_MS) return;
    this.#lastWake.set(url, Date.now());
    void fetch(url, { signal: AbortSignal.timeout(WAKE_TIMEOUT_MS) }).then(
      (response) => this.#logger.debug({ url, status: response.status }, "woke a project's peer"),
      (error: unknown) => this.#logger.warn({ err: error, url }, "could not wake a project's peer"),
    );
  }
}
