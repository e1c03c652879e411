/** The package's public API: what the fabric's other packages, services and tests use. */
export { DEV_JWT_SECRET, mintToken, type MintOptions } from "./mint.js";
export { AuthError, AuthErrorCode, ROLES, createTokenVerifier, type TokenVerifier, type VerifiedIdentity } from "./verify.js";
