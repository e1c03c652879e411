/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP for a command that supervises child processes, heard from
 * the command's start to its end. Node ends a process at once on a signal it has no listener
 * for, skipping every clean-up, so these listeners are never removed: with `process.once`, a
 * second Ctrl-C ended `up` and left NATS and the gateway running, which a terminal's Ctrl-C
 * does not reach (issue 17).
 */

/**
 * A SIGINT this soon after the first is taken as the same Ctrl-C. `npm start` runs `up` under
 * tsx's CLI, which sends its child a copy of every SIGINT it gets when the child has not told
 * it within 30 ms that it got the signal itself (a busy event loop under load): that copy is
 * not the user's. ms
 */
const SAME_CTRL_C_MS = 1_000;

export type StopSignals = {
  /** Resolves with the first stop signal. */
  requested: Promise<NodeJS.Signals>;
  isRequested(): boolean;
};

/** `onForce` runs on a later Ctrl-C: the user will not wait for the orderly stop. */
export function listenForStopSignals(onForce: () => void): StopSignals {
  let firstAt: number | undefined;
  let resolveRequested!: (signal: NodeJS.Signals) => void;
  const requested = new Promise<NodeJS.Signals>((resolve) => (resolveRequested = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstAt === undefined) {
      firstAt = Date.now();
      resolveRequested(signal);
    } else if (signal === "SIGINT" && Date.now() - firstAt > SAME_CTRL_C_MS) {
      onForce();
    }
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
  return { requested, isRequested: () => firstAt !== undefined };
}
