/** Latency statistics for benchmark reports. */
export type Summary = {
  count: number;
  /** ms */
  p50: number;
  /** ms */
  p99: number;
  /** Round trips per second over the whole phase. */
  throughput: number;
};

/** Nearest-rank percentile of sorted values; `fraction` in 0..1. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(latencies: readonly number[], elapsedMs: number): Summary {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    throughput: (sorted.length / elapsedMs) * 1000,
  };
}

/** Runs `sessions` closed loops of `roundTrip` for `durationMs`, collecting latencies. ms */
export async function closedLoops(
  sessions: number,
  durationMs: number,
  roundTrip: (session: number) => Promise<void>,
): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: sessions }, async (_, session) => {
      while (performance.now() < deadline) {
        const before = performance.now();
        await roundTrip(session);
        latencies.push(performance.now() - before);
      }
    }),
  );
  return { latencies, elapsedMs: performance.now() - started };
}
