/**
 * A recorded-fixture PolyHaven API on 127.0.0.1 (the shapes of api.polyhaven.com), so gated
 * downloads run for real in tests without the internet: one HDRI and one texture, with
 * tiny but valid .hdr and .png files. Point the addon's `polyhaven_base_url` at `url`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { deflateSync } from "node:zlib";

export type PolyHavenFixture = AsyncDisposable & {
  url: string;
  /** Paths requested so far, e.g. `/files/fixture_sky`. */
  requests: string[];
  close(): Promise<void>;
};

/** A 2×2 Radiance HDR image, uncompressed RGBE pixels. */
function hdrImage(): Buffer {
  const header = Buffer.from("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n", "ascii");
  return Buffer.concat([header, Buffer.from([128, 160, 255, 129, 255, 200, 80, 129, 40, 40, 40, 128, 255, 255, 255, 128])]);
}

/** A 2×2 RGB PNG. */
function pngImage(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc(body));
    return Buffer.concat([length, body, checksum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(2, 0);
  header.writeUInt32BE(2, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.from([0, 200, 40, 40, 40, 200, 40, 0, 40, 40, 200, 220, 220, 220]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const ASSETS = {
  fixture_sky: { name: "Fixture Sky", type: 0, categories: ["outdoor", "skies"], tags: ["clear"] },
  fixture_bricks: { name: "Fixture Bricks", type: 1, categories: ["brick", "wall"], tags: ["red"] },
};

export async function startPolyHavenFixture(): Promise<PolyHavenFixture> {
  const requests: string[] = [];
  let base = "";
  const hdr = hdrImage();
  const downloads: Record<string, Buffer> = { "/downloads/fixture_sky_1k.hdr": hdr, "/downloads/fixture_bricks_diff_1k.png": pngImage() };
  // The file lists name absolute download URLs, known once the server has its port.
  const filesOf = (assetId: string): unknown =>
    ({
      fixture_sky: { hdri: { "1k": { hdr: { url: `${base}/downloads/fixture_sky_1k.hdr`, size: hdr.length } } } },
      fixture_bricks: { Diffuse: { "1k": { png: { url: `${base}/downloads/fixture_bricks_diff_1k.png` } } } },
    })[assetId];

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", base);
    requests.push(url.pathname);
    const json = (body: unknown) => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify(body));
    };
    const [, first, second] = url.pathname.split("/");
    if (first === "categories") return json({ all: 2, outdoor: 1, skies: 1, brick: 1, wall: 1 });
    if (first === "assets") {
      const type = url.searchParams.get("type");
      const category = url.searchParams.get("categories");
      const typeCode = ({ hdris: 0, textures: 1, models: 2 } as Record<string, number>)[type ?? ""];
      return json(
        Object.fromEntries(
          Object.entries(ASSETS).filter(
            ([, asset]) => (typeCode === undefined || asset.type === typeCode) && (!category || asset.categories.includes(category)),
          ),
        ),
      );
    }
    const assetFiles = first === "files" && second ? filesOf(second) : undefined;
    if (assetFiles) return json(assetFiles);
    const download = downloads[url.pathname];
    if (download) return response.end(download);
    response.statusCode = 404;
    json({ error: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { url: base, requests, close, [Symbol.asyncDispose]: close };
}
