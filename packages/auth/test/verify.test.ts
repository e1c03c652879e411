// The production path: tokens verified against a JWKS served over real HTTP.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, expect, test } from "vitest";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { AuthError, AuthErrorCode, createTokenVerifier, mintToken, newJwtSecret } from "@blender-fabric/auth";

let server: Server;
let jwksUrl: string;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

beforeAll(async () => {
  const keys = await generateKeyPair("RS256");
  privateKey = keys.privateKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "key-1", alg: "RS256", use: "sig" };
  server = createServer((_, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  jwksUrl = `http://127.0.0.1:${address.port}/.well-known/jwks.json`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const sign = (claims: Record<string, unknown>, issuer = "https://issuer.test", audience = "blender-fabric") =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: "key-1" })
    .setIssuer(issuer)
    .setAudience(audience)
    .setExpirationTime("5m")
    .sign(privateKey);

const codeOf = async (promise: Promise<unknown>) =>
  promise.then(
    () => "accepted",
    (error: unknown) => (error instanceof AuthError ? error.code : "other error"),
  );

test("JWKS: the right issuer and audience pass; anything else is refused", async () => {
  const verify = createTokenVerifier({ kind: "jwks", jwksUrl, issuer: "https://issuer.test", audience: "blender-fabric" });
  expect(await verify(await sign({ sub: "alice", role: "blender-client" }))).toEqual({
    userId: "alice",
    role: "blender-client",
  });
  expect(await codeOf(verify(await sign({ sub: "alice" }, "https://elsewhere.test")))).toBe(AuthErrorCode.Invalid);
  expect(await codeOf(verify(await sign({ sub: "alice" }, undefined, "another-app")))).toBe(AuthErrorCode.Invalid);
  // An HS256 token, whatever its secret, means nothing to a JWKS verifier.
  expect(await codeOf(verify(await mintToken({ sub: "alice" }, { secret: newJwtSecret() })))).toBe(AuthErrorCode.Invalid);
  expect(await codeOf(verify(undefined))).toBe(AuthErrorCode.Missing);
});

test("shared secret: the right secret passes, an unknown role is refused", async () => {
  const verify = createTokenVerifier({ kind: "secret", secret: "a-secret-of-enough-length" });
  const token = await mintToken({ sub: "bob" }, { secret: "a-secret-of-enough-length" });
  expect(await verify(token)).toEqual({ userId: "bob", role: undefined });
  const badRole = await new SignJWT({ sub: "bob", role: "admin" })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode("a-secret-of-enough-length"));
  expect(await codeOf(verify(badRole))).toBe(AuthErrorCode.Invalid);
});
