/** What `up` prints: where the fabric listens and how to point MCP clients at it. */
export type ConnectionDetails = { mcpUrl: string; natsUrl: string; operatorNkey: string; token: string; user: string; blenderUuid: string };

export function printConnectionGuide({ mcpUrl, natsUrl, operatorNkey, token, user, blenderUuid }: ConnectionDetails): void {
  const desktopConfig = {
    mcpServers: {
      "blender-fabric": {
        command: "npx",
        // mcp-remote's documented form: the header value comes from env, no spaces in args.
        args: ["-y", "mcp-remote", mcpUrl, "--header", "Authorization:${AUTH_HEADER}"],
        env: { AUTH_HEADER: `Bearer ${token}` },
      },
    },
  };
  const lines = [
    "",
    "Blender Fabric is up.",
    "",
    `  MCP endpoint   ${mcpUrl}`,
    `  Dashboard      ${new URL("/ui", mcpUrl).href}?token=${token}`,
    "                 (the link signs you in; the dashboard shows your peers, jobs and frames as they land)",
    `  NATS           ${natsUrl}   (credentials only; watch traffic read-only with`,
    `                 blender-fabric tail --user ${user} --nats ${natsUrl} --nkey ${operatorNkey})`,
    `  Blender        ${blenderUuid} (headless, on the bus of "${user}")`,
    `  Dev token      for user "${user}", valid 30 days:`,
    "",
    `  ${token}`,
    "",
    "Claude Code:",
    "",
    `  claude mcp add --transport http blender-fabric ${mcpUrl} --header "Authorization: Bearer ${token}"`,
    "",
    "Claude Desktop (claude_desktop_config.json):",
    "",
    ...JSON.stringify(desktopConfig, null, 2).split("\n").map((line) => `  ${line}`),
    "",
    'First call: ask your client to "call blender_get_scene_info", or run',
    `  FABRIC_URL=${mcpUrl} FABRIC_TOKEN=<the token above> npx tsx examples/first-call.ts`,
    "The CLI reads the same two variables:",
    `  FABRIC_URL=${mcpUrl} FABRIC_TOKEN=<the token above> npx blender-fabric jobs`,
    "",
    "Press Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(lines.join("\n"));
}
