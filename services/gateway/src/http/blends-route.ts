/**
 * .blend uploads for the farm: `PUT /blends/<sha256>` with the file as the body, and
 * `GET` or `HEAD /blends/<sha256>` to learn whether it is there already (then there is
 * nothing to send). The body streams to a temporary file, counted against FABRIC_MAX_BLEND_BYTES, and
 * goes to `fabric_blends` only once its hash is the one the path names and it starts as a
 * Blender file does. A user sees only their own
 * uploads: the store's names start with the user id.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Context, Hono } from "hono";
import { BlendSha256Schema } from "@blender-fabric/protocol";
import { BlendHashMismatch, type BlendStore } from "@blender-fabric/bus";
import type { AuthVariables } from "./auth-middleware.js";

class TooLarge extends Error {}

/**
 * How a .blend starts: `BLENDER` (an uncompressed file), or the gzip (before Blender 3.0) or
 * zstd (3.0 on) magic of a compressed one. Anything else is not a Blender file, and a farm
 * would only find out when every task fails to open it.
 */
const BLEND_MAGICS = [Buffer.from("BLENDER"), Buffer.from([0x1f, 0x8b]), Buffer.from([0x28, 0xb5, 0x2f, 0xfd])];

async function isBlendFile(path: string): Promise<boolean> {
  const file = await open(path, "r");
  try {
    const head = Buffer.alloc(7);
    const { bytesRead } = await file.read(head, 0, head.byteLength, 0);
    return BLEND_MAGICS.some((magic) => bytesRead >= magic.byteLength && head.subarray(0, magic.byteLength).equals(magic));
  } finally {
    await file.close();
  }
}

/** Fails the flow once more than `maxBytes` went through. */
const sizeLimit = (maxBytes: number) => {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.byteLength;
      callback(seen > maxBytes ? new TooLarge(`the file is larger than ${maxBytes} bytes`) : null, chunk);
    },
  });
};

type BlendContext = Context<{ Variables: AuthVariables }>;

const shaOf = (c: BlendContext) => {
  const parsed = BlendSha256Schema.safeParse(c.req.param("sha256"));
  return parsed.success ? parsed.data : undefined;
};

const badHash = (c: BlendContext) =>
  c.json({ error: "the path must be /blends/<sha256>, the file's SHA-256 as 64 lowercase hex digits", field: "sha256" }, 400);

/** `maxBytes`: one file at most; `tenantBytes`: what one tenant may store in all (its quota). */
export function mountBlendRoutes(app: Hono<{ Variables: AuthVariables }>, blends: BlendStore, maxBytes: number, tenantBytes: number): void {
  // GET (and so HEAD, which Hono answers from GET without the body) says whether it is there.
  app.get("/:sha256", async (c) => {
    const sha256 = shaOf(c);
    if (!sha256) return badHash(c);
    const size = await blends.sizeOf(c.get("identity").userId, sha256);
    return size === undefined ? c.json({ error: "not found" }, 404) : c.json({ status: "exists", sha256, size }, 200);
  });

  app.put("/:sha256", async (c) => {
    const sha256 = shaOf(c);
    if (!sha256) return badHash(c);
    const userId = c.get("identity").userId;
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > maxBytes) return c.json({ error: `the file is larger than ${maxBytes} bytes (FABRIC_MAX_BLEND_BYTES)` }, 413);
    const existing = await blends.sizeOf(userId, sha256);
    if (existing !== undefined) return c.json({ status: "exists", sha256, size: existing }, 200);
    const stored = await blends.storedBytes(userId);
    if (stored + declared > tenantBytes) {
      return c.json({ status: "quota_exceeded", error: `quota_exceeded: FABRIC_TENANT_BLEND_BYTES (${tenantBytes} bytes; ${stored} stored); nothing stored was lost` }, 413);
    }
    const body = c.req.raw.body;
    if (!body) return c.json({ error: "the request has no body: send the .blend file" }, 400);
    const folder = await mkdtemp(join(tmpdir(), "fabric-upload-"));
    const path = join(folder, "upload.blend");
    try {
      const hash = createHash("sha256");
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(body as import("node:stream/web").ReadableStream), sizeLimit(maxBytes), hashing, createWriteStream(path));
      // The hash first: a wrong one is the likelier mistake, and it names the path.
      const actual = hash.digest("hex");
      if (actual !== sha256) return c.json({ error: `the file hashes to ${actual}, not ${sha256}`, field: "sha256" }, 400);
      if (!(await isBlendFile(path))) {
        return c.json({ error: "the file is not a .blend: it starts neither with Blender's header (BLENDER) nor as a compressed .blend (gzip, zstd)", field: "body" }, 400);
      }
      return c.json({ status: "stored", ...(await blends.putFile(userId, path, sha256)) }, 201);
    } catch (error) {
      if (error instanceof TooLarge) return c.json({ error: `${error.message} (FABRIC_MAX_BLEND_BYTES)` }, 413);
      if (error instanceof BlendHashMismatch) return c.json({ error: error.message, field: "sha256" }, 400);
      throw error;
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
}
