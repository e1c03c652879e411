/**
 * A running job's progress reports, sent one at a time and before its end.
 *
 * Each report is a peer API request, and the replica that takes it announces it on the job's
 * subject before answering. Sent one at a time, a report's event is out before the next
 * report (or the end) leaves, whichever replica takes that: the caller sees its reports in
 * order and all of them before the answer. A script that reports faster than the fabric
 * takes them loses only the reports in between: the one waiting is replaced by the newest.
 */

export type ProgressReport = { fraction: number; message: string };

/** How long a job's end waits for its last reports to be taken. ms */
export const REPORTS_FLUSH_MS = 2_000;

export class ProgressReports {
  readonly #send: (report: ProgressReport) => Promise<void>;
  readonly #onFailure: (error: unknown) => void;
  #waiting: ProgressReport | undefined;
  #sending: Promise<void> | undefined;

  constructor(send: (report: ProgressReport) => Promise<void>, onFailure: (error: unknown) => void) {
    this.#send = send;
    this.#onFailure = onFailure;
  }

  report(report: ProgressReport): void {
    this.#waiting = report;
    this.#sending ??= this.#sendAll();
  }

  /** Resolves once every report has been taken (or failed), or after `withinMs`. */
  async flushed(withinMs = REPORTS_FLUSH_MS): Promise<void> {
    if (!this.#sending) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#sending, new Promise<void>((resolve) => (timer = setTimeout(resolve, withinMs)))]);
    clearTimeout(timer);
  }

  async #sendAll(): Promise<void> {
    try {
      for (let next = this.#waiting; next; next = this.#waiting) {
        this.#waiting = undefined;
        await this.#send(next).catch(this.#onFailure);
      }
    } finally {
      this.#sending = undefined;
    }
  }
}
