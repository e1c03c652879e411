/** Routing modes (seed 002): precedence target_uuid > group_id > client_type > broadcast. */
import { z } from "zod";

export const RoutingSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("direct"), target_uuid: z.string() }),
  z.object({ type: z.literal("group"), group_id: z.string() }),
  z.object({ type: z.literal("type_filter"), client_type: z.string() }),
  z.object({ type: z.literal("broadcast") }),
]);
export type Routing = z.infer<typeof RoutingSchema>;

export type RoutingFields = {
  target_uuid?: string | null;
  group_id?: string | null;
  client_type?: string | null;
};

/** Picks the routing mode from whichever targeting field is set; the first match wins. */
export function resolveRouting(fields: RoutingFields): Routing {
  if (fields.target_uuid) return { type: "direct", target_uuid: fields.target_uuid };
  if (fields.group_id) return { type: "group", group_id: fields.group_id };
  if (fields.client_type) return { type: "type_filter", client_type: fields.client_type };
  return { type: "broadcast" };
}
