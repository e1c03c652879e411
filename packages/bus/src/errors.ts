/** Errors of the bus layer. They know nothing about HTTP or MCP. */
export const BusErrorCode = {
  NotConnected: "NOT_CONNECTED",
  Conflict: "CONFLICT",
  CorruptRecord: "CORRUPT_RECORD",
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
