/** The package's public API: what the fabric's other packages, services and tests use. */
export { mintToken, type MintOptions, type TokenClaims } from "./mint.js";
export { MIN_JWT_SECRET_LENGTH, jwtSecretProblem, newJwtSecret } from "./jwt-secret.js";
export { AuthError, AuthErrorCode, ROLES, createTokenVerifier, type TokenVerifier, type VerifiedIdentity } from "./verify.js";
