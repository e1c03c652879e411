/**
 * Scenes for the farm travel as .blend files through the Object Store `fabric_blends`, by
 * content hash and per user: `<u>/<sha256>`. No peer needs a shared filesystem, and each
 * keeps what it fetched by hash, so a second job on the same scene downloads nothing.
 */
import { z } from "zod";
import { encodeToken } from "./tokens.js";
import { IdentifierSchema } from "./identifiers.js";

export const BlendSha256Schema = z
  .string()
  .regex(/^[0-9a-f]{64}$/u, "must be the file's SHA-256 as 64 lowercase hex digits");

/** Where the scene comes from: an uploaded .blend, or a copy of a live peer's current scene. */
export const BlendSourceSchema = z.union([
  z.object({ sha256: BlendSha256Schema.describe("A .blend uploaded with PUT /blends/<sha256>.") }).strict(),
  z
    .object({
      snapshot_of: IdentifierSchema.describe(
        "A live peer's uuid: it saves a copy of its current scene (unsaved changes too), which the farm renders.",
      ),
    })
    .strict(),
]);
export type BlendSource = z.infer<typeof BlendSourceSchema>;

/** The Object Store name of a user's .blend. */
export const blendObjectName = (userId: string, sha256: string) => `${encodeToken(userId)}/${sha256}`;

/**
 * The bridge command that saves a copy of the peer's current scene into `fabric_blends`
 * (for `blend: {snapshot_of}`). It is handled by the bridge, not by an addon command, and no
 * dispatch tool exposes it. Its result is {@link BlendSnapshotResult}.
 */
export const SNAPSHOT_COMMAND = "fabric_snapshot_scene";

export const BlendSnapshotResultSchema = z.object({ sha256: BlendSha256Schema, size: z.number().int() });
export type BlendSnapshotResult = z.infer<typeof BlendSnapshotResultSchema>;
