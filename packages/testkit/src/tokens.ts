/**
 * Tokens in tests. Each test process has one random JWT secret, made here: every gateway the
 * testkit starts verifies with it and `mintToken` signs with it. There is no shared constant
 * a token could be forged with.
 */
import { mintToken as mintWithSecret, newJwtSecret, type MintOptions, type TokenClaims } from "@blender-fabric/auth";
import { startGatewayProcess as startSupervisedGateway, type GatewayProcess } from "@blender-fabric/supervisor";

/** This test process's secret (what its gateways get as FABRIC_JWT_SECRET). */
export const TEST_JWT_SECRET = newJwtSecret();

/** A token the testkit's gateways accept; `secret` signs with another one instead (an attacker's). */
export const mintToken = (claims: TokenClaims, options: Partial<MintOptions> = {}): Promise<string> =>
  mintWithSecret(claims, { ...options, secret: options.secret ?? TEST_JWT_SECRET });

/** The supervisor's gateway replica with this process's secret, unless `env` sets its own. */
export const startGatewayProcess = (options: Parameters<typeof startSupervisedGateway>[0]): Promise<GatewayProcess> =>
  startSupervisedGateway({ ...options, env: { FABRIC_JWT_SECRET: TEST_JWT_SECRET, ...options.env } });
