/** Errors of the bus layer. They know nothing about HTTP or MCP. */
export const BusErrorCode = {
  /** JetStream did not accept a write within the retry deadline. */
  Unavailable: "UNAVAILABLE",
  /** A stream or bucket is at its byte limit (a quota): retrying cannot help. */
  StoreFull: "STORE_FULL",
} as const;
export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

export class BusError extends Error {
  override name = "BusError";
  constructor(
    readonly code: BusErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** JetStream's "maximum bytes exceeded": a stream (a bucket) that reached its byte limit. */
const MAXIMUM_BYTES_EXCEEDED = 10077;

/** Whether `error` says a stream or bucket is full (at its byte limit). */
export function isStoreFull(error: unknown): boolean {
  if (error instanceof BusError) return error.code === BusErrorCode.StoreFull;
  const code = (error as { code?: unknown } | null)?.code;
  return code === MAXIMUM_BYTES_EXCEEDED || (error instanceof Error && /maximum bytes exceeded/u.test(error.message));
}
