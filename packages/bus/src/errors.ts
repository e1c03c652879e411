/** Errors of the bus layer. They know nothing about HTTP or MCP. */
export const BusErrorCode = {
  /** JetStream did not accept a write within the retry deadline. */
  Unavailable: "UNAVAILABLE",
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
