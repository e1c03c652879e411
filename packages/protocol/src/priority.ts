/**
 * Message priorities are MCP log-level names (seed 003): a routed message reaches an MCP
 * client as a `notifications/message` whose `level` is the priority, so `logging/setLevel`
 * doubles as a priority filter.
 */
import { z } from "zod";

/** Most severe first; the index is the severity rank. */
export const PRIORITIES = [
  "emergency",
  "alert",
  "critical",
  "error",
  "warning",
  "notice",
  "info",
  "debug",
] as const;

export const PrioritySchema = z.enum(PRIORITIES);
export type Priority = z.infer<typeof PrioritySchema>;

/** Whether a message of `priority` passes a client whose log level is `level`. */
export function priorityPassesLevel(priority: Priority, level: Priority): boolean {
  return PRIORITIES.indexOf(priority) <= PRIORITIES.indexOf(level);
}
