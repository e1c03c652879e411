/**
 * Waits for a job's terminal update on `user.<u>.job.<id>`. Subscribe before the work is
 * published (the seed's JobWaiter registered its future before routing) so an update that
 * arrives at once is never missed.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  JobEventSchema,
  epochSeconds,
  isTerminalJobStatus,
  subjectForJob,
  type JobEvent,
} from "@blender-fabric/protocol";
import { parseJsonSafely } from "@blender-fabric/bus";

export type JobWatch = {
  /** Resolves with the terminal event, or undefined after `timeoutMs` without one. */
  terminal(timeoutMs: number): Promise<JobEvent | undefined>;
  stop(): void;
};

export function watchJob(
  nc: NatsConnection,
  userId: string,
  jobId: string,
  onEvent: (event: JobEvent) => void = () => {},
): JobWatch {
  let settle: (event: JobEvent) => void = () => {};
  let terminalEvent: JobEvent | undefined;
  const subscription = nc.subscribe(subjectForJob(userId, jobId), {
    callback: (error, message) => {
      if (error) return;
      const parsed = JobEventSchema.safeParse(parseJsonSafely(message));
      if (!parsed.success || parsed.data.job_id !== jobId) return;
      onEvent(parsed.data);
      if (isTerminalJobStatus(parsed.data.status) && !terminalEvent) {
        terminalEvent = parsed.data;
        settle(parsed.data);
      }
    },
  });
  return {
    terminal(timeoutMs) {
      if (terminalEvent) return Promise.resolve(terminalEvent);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        settle = (event) => {
          clearTimeout(timer);
          resolve(event);
        };
      });
    },
    stop: () => subscription.unsubscribe(),
  };
}

/** Publishes one job event on the job's subject. */
export function publishJobEvent(
  nc: NatsConnection,
  userId: string,
  event: Omit<JobEvent, "kind" | "timestamp">,
): void {
  const full: JobEvent = { kind: "job_update", ...event, timestamp: epochSeconds() };
  nc.publish(subjectForJob(userId, event.job_id), JSON.stringify(full));
}
