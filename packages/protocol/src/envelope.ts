/**
 * The envelope that travels on routing subjects. MCP clients receive exactly this object as
 * the `data` of a `notifications/message` with logger `_message_bus` (DESIGN.md section 3).
 */
import { z } from "zod";
import { PrioritySchema } from "./priority.js";
import { RoutingSchema } from "./routing.js";

/** Logger name of bus notifications, as in the seed. */
export const MESSAGE_BUS_LOGGER = "_message_bus";

export const EnvelopeSchema = z.object({
  v: z.literal(1),
  message_id: z.string(),
  job_id: z.string(),
  /** The user whose bus carried the message (raw id, not the encoded token). */
  bus_id: z.string(),
  from_uuid: z.string(),
  target_uuid: z.string().nullable(),
  routing: RoutingSchema,
  priority: PrioritySchema,
  payload: z.record(z.string(), z.unknown()),
  /** Seconds since the epoch, fractional. */
  timestamp: z.number(),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

/** Seconds since the epoch, the time unit of every wire timestamp. */
export const epochSeconds = (date: number = Date.now()) => date / 1000;

/** A registered client's uuid, as opposed to the server's own `server:<u>` sender name. */
export const isClientUuid = (uuid: string | null | undefined): uuid is string => !!uuid && !uuid.startsWith("server:");
