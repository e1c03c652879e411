/** Prometheus metrics served on /metrics (prom-client: the standard Node client). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

export function createGatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    toolCalls: new Counter({
      name: "fabric_tool_calls_total",
      help: "MCP tool calls by tool and result status",
      labelNames: ["tool", "status"] as const,
      registers: [registry],
    }),
    toolSeconds: new Histogram({
      name: "fabric_tool_duration_seconds",
      help: "MCP tool call duration",
      labelNames: ["tool"] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 180],
      registers: [registry],
    }),
    openStreams: new Gauge({
      name: "fabric_notification_streams",
      help: "MCP GET notification streams held by this replica",
      registers: [registry],
    }),
    deliveredMessages: new Counter({
      name: "fabric_notifications_delivered_total",
      help: "Bus messages forwarded to MCP clients as notifications",
      registers: [registry],
    }),
  };
}
