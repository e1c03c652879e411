/**
 * The first call a newcomer makes: connect to the local fabric (`npm start`) with the MCP
 * SDK and read the scene of the headless Blender it started.
 *
 *   FABRIC_URL=<MCP endpoint printed by npm start> FABRIC_TOKEN=<token printed by npm start> npx tsx examples/first-call.ts
 *
 * FABRIC_URL, as for the CLI; unset, http://127.0.0.1:8080/mcp.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.env.FABRIC_URL ?? "http://127.0.0.1:8080/mcp");
const transport = new StreamableHTTPClientTransport(url, {
  requestInit: { headers: { Authorization: `Bearer ${process.env.FABRIC_TOKEN}` } },
});
const client = new Client({ name: "first-call", version: "1.0.0" });
await client.connect(transport);

const answer = await client.callTool({ name: "blender_get_scene_info", arguments: {} });
const body = JSON.parse((answer.content as { text: string }[])[0]!.text);
console.log(`status: ${body.status} (job ${body.job_id} on ${body.target_uuid})`);
console.log(JSON.parse(body.result));

await client.close();
