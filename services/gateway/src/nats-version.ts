/**
 * Which nats-server versions the gateway runs against. Production pins a supported release
 * (deploy/: 2.12.6 or later, or 2.14.x; 2.9.x has unfixed CVEs); older than 2.10 is warned about
 * at connect, except in dev mode, whose local server is Debian's 2.9.10.
 */

/** Below this the gateway warns at connect (outside dev mode). */
export const MINIMUM_NATS_SERVER_VERSION = "2.10.0";

/** What deploy/ pins and the warning recommends. */
export const SUPPORTED_NATS_SERVERS = "2.12.6 or later, or 2.14.x";

/** [major, minor, patch] of a version such as `2.12.6`, `v2.10.0-RC.1` or `2.14.2-alpine`; undefined if it is none. */
export function parseServerVersion(version: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/u.exec(version.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/** Whether `version` is older than `minimum`; false when either cannot be read. Pre-release suffixes are ignored. */
export function isOlderServerVersion(version: string, minimum: string): boolean {
  const have = parseServerVersion(version);
  const need = parseServerVersion(minimum);
  if (!have || !need) return false;
  for (let index = 0; index < 3; index += 1) {
    if (have[index] !== need[index]) return have[index]! < need[index]!;
  }
  return false;
}
