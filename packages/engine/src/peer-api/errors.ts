/** Refusals of the peer API. They travel as `{ok: false, code, error}` and are rebuilt on the peer's side. */
import { PeerApiErrorCode } from "@blender-fabric/protocol";

export class PeerApiError extends Error {
  override name = "PeerApiError";
  constructor(
    readonly code: PeerApiErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
