/**
 * One connection to the Blender addon (addon/PROTOCOL.md): newline-delimited JSON over
 * localhost TCP (a GUI Blender) or a Unix socket (a bridge's own headless Blender), a token
 * handshake, requests matched to replies by id, progress events.
 */
import { connect, type Socket } from "node:net";
import { randomUUID } from "node:crypto";
import { z } from "zod";

export const AddonHelloSchema = z.object({
  type: z.literal("hello"),
  ok: z.boolean(),
  error: z.string().optional(),
  blender_version: z.string().optional(),
  blend_file: z.string().optional(),
  pid: z.number().int().optional(),
  commands: z.array(z.string()).optional(),
});
export type AddonHello = z.infer<typeof AddonHelloSchema>;

/** Where an addon listens: a Unix socket, or a TCP host and port. */
export type AddonEndpoint = { path: string } | { host: string; port: number };

export const AddonReplySchema = z.object({
  id: z.string(),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.string().optional(),
  traceback: z.string().nullable().optional(),
  /** The handler's own time on Blender's main thread. ms */
  duration_ms: z.number().optional(),
});
export type AddonReply = z.infer<typeof AddonReplySchema>;

export const AddonProgressSchema = z.object({
  type: z.literal("progress"),
  id: z.string(),
  job_id: z.string(),
  fraction: z.number(),
  message: z.string().default(""),
});
export type AddonProgress = z.infer<typeof AddonProgressSchema>;

export type AddonRequest =
  | { type: "command"; command: string; params: Record<string, unknown>; job_id: string | null }
  | { type: "script"; script: string; job_id: string }
  | { type: "cancel"; job_id: string }
  | { type: "ping" };

/** The connection dropped (Blender died or closed it) before a reply arrived. */
export class AddonConnectionLost extends Error {
  override name = "AddonConnectionLost";
}

/** How long the addon may take to answer the handshake. ms */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export class AddonRefused extends Error {
  override name = "AddonRefused";
}

export class AddonConnection {
  readonly #socket: Socket;
  readonly #pending = new Map<string, { resolve: (reply: AddonReply) => void; reject: (error: Error) => void }>();
  #buffer = "";
  #closed = false;
  #onProgress: (progress: AddonProgress) => void = () => {};
  readonly closed: Promise<void>;
  hello!: AddonHello;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.setNoDelay(true); // small request/reply lines: never wait to coalesce them (TCP only; a no-op on a Unix socket)
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.#closed = true;
        for (const { reject } of this.#pending.values()) reject(new AddonConnectionLost("the addon connection closed"));
        this.#pending.clear();
        resolve();
      });
    });
    socket.on("error", () => {}); // "close" follows and fails whatever was pending
  }

  /** Connects over TCP and completes the handshake; throws {@link AddonRefused} on a bad token. */
  static open(host: string, port: number, token: string): Promise<AddonConnection> {
    return AddonConnection.openAt({ host, port }, token);
  }

  /** Connects to `endpoint` and completes the handshake; throws {@link AddonRefused} on a bad token. */
  static async openAt(endpoint: AddonEndpoint, token: string): Promise<AddonConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const attempt = connect("path" in endpoint ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port }, () => resolve(attempt));
      attempt.once("error", reject);
    });
    const connection = new AddonConnection(socket);
    const timer = setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT_MS); // "close" rejects below
    connection.hello = await new Promise<AddonHello>((resolve, reject) => {
      connection.#onLine = (line) => {
        const hello = AddonHelloSchema.safeParse(line);
        if (!hello.success) return reject(new AddonRefused("the addon did not answer the handshake"));
        connection.#onLine = (message) => connection.#dispatch(message);
        if (!hello.data.ok) return reject(new AddonRefused(hello.data.error ?? "handshake refused"));
        resolve(hello.data);
      };
      void connection.closed.then(() => reject(new AddonConnectionLost("the addon closed during the handshake")));
      socket.on("data", (chunk: string) => connection.#receive(chunk));
      connection.#write({ type: "hello", token });
    }).finally(() => clearTimeout(timer));
    return connection;
  }

  #onLine: (message: unknown) => void = () => {};

  #receive(chunk: string): void {
    this.#buffer += chunk;
    for (let newline = this.#buffer.indexOf("\n"); newline >= 0; newline = this.#buffer.indexOf("\n")) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      if (!line.trim()) continue;
      try {
        this.#onLine(JSON.parse(line));
      } catch {
        // Not JSON: the addon never writes such lines; ignore rather than crash the bridge.
      }
    }
  }

  #dispatch(message: unknown): void {
    const progress = AddonProgressSchema.safeParse(message);
    if (progress.success) return this.#onProgress(progress.data);
    const reply = AddonReplySchema.safeParse(message);
    if (!reply.success) return;
    this.#pending.get(reply.data.id)?.resolve(reply.data);
    this.#pending.delete(reply.data.id);
  }

  #write(message: object): void {
    this.#socket.write(`${JSON.stringify(message)}\n`);
  }

  /** Sends a request and resolves with its reply; rejects with {@link AddonConnectionLost}. */
  request(request: AddonRequest): Promise<AddonReply> {
    if (this.#closed) return Promise.reject(new AddonConnectionLost("the addon connection is closed"));
    const id = `r-${randomUUID()}`;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#write({ id, ...request });
    });
  }

  onProgress(listener: (progress: AddonProgress) => void): void {
    this.#onProgress = listener;
  }

  close(): void {
    this.#socket.destroy();
  }
}
