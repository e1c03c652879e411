/** What `up` prints: where the fabric listens and how to point MCP clients at it. */
export type ConnectionDetails = { mcpUrl: string; natsUrl: string; token: string; user: string };

export function printConnectionGuide({ mcpUrl, natsUrl, token, user }: ConnectionDetails): void {
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
    `  NATS           ${natsUrl}   (watch traffic: nats --server ${natsUrl} sub 'user.>')`,
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
    "Press Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(lines.join("\n"));
}
