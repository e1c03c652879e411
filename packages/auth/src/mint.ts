/** Mints the bearer JWTs the gateway accepts, for tests, `npm start` and benchmarks. */
import { SignJWT } from "jose";
import type { ROLES } from "./verify.js";

/** The dev secret `npm start` and the tests share; production sets its own or uses JWKS. */
export const DEV_JWT_SECRET = "blender-fabric-dev-secret-change-me";

export type TokenClaims = {
  /** The user id: the bus every call of this token lands on. */
  sub: string;
  role?: (typeof ROLES)[number];
};

export type MintOptions = {
  secret?: string;
  /** e.g. "1h", "30d", or a date in seconds since the epoch. */
  expiresIn?: string | number;
  issuer?: string;
  audience?: string;
};

export async function mintToken(claims: TokenClaims, options: MintOptions = {}): Promise<string> {
  const jwt = new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "1h");
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret ?? DEV_JWT_SECRET));
}
