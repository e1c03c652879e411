/**
 * The LLM side of a test: the MCP SDK's own `Client` over Streamable HTTP, with every HTTP
 * request sent to the next gateway replica in turn, so no test can pass by accident of
 * sticky routing. Bus notifications are collected for assertions.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  LoggingMessageNotificationSchema,
  type LoggingMessageNotification,
} from "@modelcontextprotocol/sdk/types.js";
import { subjectForSessionSync, type Envelope } from "@blender-fabric/protocol";
import { waitFor } from "@blender-fabric/supervisor";

/** A `notifications/message` from the bus: its data is an envelope (payloads are open). */
export type BusNotification = Omit<LoggingMessageNotification["params"], "data"> & {
  data: Omit<Envelope, "payload"> & { payload: Record<string, any> };
};

export type FabricTestClientOptions = {
  /** /mcp URLs of the replicas; requests rotate across them. */
  mcpUrls: string[];
  token: string;
  name?: string;
};

export class FabricTestClient {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  /** Every bus notification received, oldest first. */
  readonly notifications: BusNotification[] = [];
  /** The replica URL each HTTP request went to, in order. */
  readonly requestLog: string[] = [];
  readonly #listeners = new Set<() => void>();

  private constructor(options: FabricTestClientOptions) {
    let next = 0;
    const rotatingFetch = (input: string | URL | Request, init?: RequestInit) => {
      const target = options.mcpUrls[next++ % options.mcpUrls.length]!;
      this.requestLog.push(target);
      return fetch(target, init);
    };
    this.transport = new StreamableHTTPClientTransport(new URL(options.mcpUrls[0]!), {
      requestInit: { headers: { authorization: `Bearer ${options.token}` } },
      fetch: rotatingFetch,
      // A restarted replica comes back within seconds; keep the GET stream trying.
      reconnectionOptions: {
        initialReconnectionDelay: 100,
        maxReconnectionDelay: 1_000,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 100,
      },
    });
    this.client = new Client({ name: options.name ?? "fabric-test", version: "0.0.0" });
    this.client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      this.notifications.push(notification.params as BusNotification);
      for (const listener of this.#listeners) listener();
    });
  }

  static async connect(options: FabricTestClientOptions): Promise<FabricTestClient> {
    const testClient = new FabricTestClient(options);
    await testClient.client.connect(testClient.transport);
    // With the tools' output schemas known, the SDK client checks every later answer's
    // structuredContent against its tool's schema (and refuses a success without one).
    await testClient.client.listTools();
    return testClient;
  }

  get sessionId(): string {
    const id = this.transport.sessionId;
    if (!id) throw new Error("not connected");
    return id;
  }

  /** Calls a tool and returns the MCP result as it came (content, structuredContent, isError). */
  raw(name: string, args: Record<string, unknown> = {}) {
    return this.client.callTool({ name, arguments: args });
  }

  /** Calls a tool and parses the JSON text it answers with. */
  async call<T = Record<string, any>>(name: string, args: Record<string, unknown> = {}): Promise<T> {
    const result = await this.client.callTool({ name, arguments: args });
    const [first] = result.content as { type: string; text: string }[];
    if (first?.type !== "text") throw new Error(`${name} answered without text: ${JSON.stringify(result)}`);
    return JSON.parse(first.text) as T;
  }

  /**
   * Calls a dispatch tool; `result` (JSON text in the seed's shape) comes back parsed as
   * `data`, so tests can check what Blender returned.
   */
  async dispatch<T = any>(name: string, args: Record<string, unknown> = {}): Promise<Record<string, any> & { data: T }> {
    const answer = await this.call(name, args);
    const data = typeof answer.result === "string" && answer.result !== "" ? JSON.parse(answer.result) : undefined;
    return { ...answer, data };
  }

  /** Bus notifications whose envelope matches `predicate`. */
  received(predicate: (data: any) => boolean = () => true): BusNotification[] {
    return this.notifications.filter((notification) => predicate(notification.data));
  }

  /** Resolves with the first notification matching `predicate`, waiting up to `timeoutMs`. */
  async nextNotification(
    predicate: (data: any) => boolean,
    timeoutMs = 5_000,
  ): Promise<BusNotification> {
    const found = () => this.received(predicate)[0];
    if (found()) return found()!;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`no matching notification within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        const notification = found();
        if (!notification) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(notification);
      };
      this.#listeners.add(check);
    });
  }

  /**
   * Waits until some replica holds this session's GET stream (it answers the session's
   * control subject). The SDK opens that stream in the background after `connect`.
   */
  async waitForStream(nc: NatsConnection, timeoutMs = 10_000): Promise<void> {
    await waitFor("the session's notification stream", async () => {
      await nc.request(subjectForSessionSync(this.sessionId), "", { timeout: 500 });
      return true;
    }, timeoutMs, 50);
  }

  async close(): Promise<void> {
    await this.transport.terminateSession().catch(() => {});
    await this.client.close();
  }
}
