/**
 * The operator commands talk to a gateway like any MCP client: the same tools, the same
 * bearer token, so they see exactly what the token's user may see.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

export type GatewayOptions = { url: string; token?: string };

export type FabricSession = {
  /** Calls a tool and parses its JSON answer. */
  call<T = Record<string, any>>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** An HTTP request to the same gateway (e.g. /blends, /artifacts) with the same token. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
};

export async function openFabricSession(options: GatewayOptions): Promise<FabricSession> {
  const token = options.token ?? process.env.FABRIC_TOKEN;
  if (!token) throw new Error("no token: pass --token or set FABRIC_TOKEN (npm start prints one)");
  const transport = new StreamableHTTPClientTransport(new URL(options.url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "blender-fabric-cli", version: "0.1.0" });
  await client.connect(transport);
  return {
    async call(name, args = {}) {
      const result = await client.callTool({ name, arguments: args });
      const [first] = result.content as { type: string; text?: string }[];
      if (first?.type !== "text" || first.text === undefined) throw new Error(`${name} answered without text`);
      return JSON.parse(first.text);
    },
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      return fetch(new URL(path, options.url), { ...init, headers });
    },
    close: () => client.close(),
  };
}
