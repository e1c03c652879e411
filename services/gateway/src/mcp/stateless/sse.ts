/**
 * A server-sent-events answer to one POST (the 2026 wire's request stream): JSON-RPC
 * messages as `message` events, `:` comments to keep idle proxies from closing it, and a
 * hook for when the client goes away (which, on this wire, is how a client cancels).
 */
export type SseWriter = {
  send(message: object): void;
  /** Called once when the client closes the stream before it ended. */
  onClose(listener: () => void): void;
  readonly closed: boolean;
};

/** How often an idle stream carries a comment. ms */
const KEEP_ALIVE_MS = 15_000;

const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  // nginx and similar proxies buffer responses unless told not to.
  "x-accel-buffering": "no",
};

/**
 * Streams what `produce` sends; the stream ends when `produce` resolves (or throws, after
 * which nothing more is sent). A client that goes away ends it too, and calls the writer's
 * close listeners.
 */
export function sseResponse(produce: (writer: SseWriter) => Promise<void>, signal?: AbortSignal): Response {
  const encoder = new TextEncoder();
  const listeners: (() => void)[] = [];
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let keepAlive: NodeJS.Timeout | undefined;
  const close = (byClient: boolean) => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    if (byClient) for (const listener of listeners) listener();
    else {
      try {
        controller.close();
      } catch {
        // already closed by the runtime
      }
    }
  };
  const writer: SseWriter = {
    send(message) {
      if (!closed) controller.enqueue(encoder.encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`));
    },
    // A listener added after the client left is told at once.
    onClose: (listener) => (closed ? listener() : void listeners.push(listener)),
    get closed() {
      return closed;
    },
  };
  const stream = new ReadableStream<Uint8Array>({
    start(streamController) {
      controller = streamController;
      keepAlive = setInterval(() => !closed && controller.enqueue(encoder.encode(": keep-alive\n\n")), KEEP_ALIVE_MS);
      keepAlive.unref();
      signal?.addEventListener("abort", () => close(true), { once: true });
      // A producer that throws has already answered what it could; the stream just ends.
      void produce(writer).then(
        () => close(false),
        () => close(false),
      );
    },
    cancel: () => close(true),
  });
  return new Response(stream, { status: 200, headers: SSE_HEADERS });
}
