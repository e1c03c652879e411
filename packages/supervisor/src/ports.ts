import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A TCP port that was free a moment ago on 127.0.0.1. Chosen below the system's ephemeral
 * range where there is room: a port from that range (what `listen(0)` hands out) is also what
 * the kernel gives outgoing connections as their local port, so one of the many connections a
 * test run opens could take it before the service it was probed for binds it.
 */
export async function findFreePort(): Promise<number> {
  const ephemeralLow = ephemeralPortRangeStart();
  if (ephemeralLow !== undefined && ephemeralLow > LOWEST_CHOSEN_PORT + 1_000) {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const candidate = LOWEST_CHOSEN_PORT + Math.floor(Math.random() * (ephemeralLow - LOWEST_CHOSEN_PORT));
      if (await isFree(candidate)) return candidate;
    }
  }
  return anyFreePort();
}

/** Ports below this are left to well-known and registered services. */
const LOWEST_CHOSEN_PORT = 20_000;

/** The first port of Linux's ephemeral range; undefined elsewhere. */
function ephemeralPortRangeStart(): number | undefined {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/u)[0]);
    return Number.isInteger(low) ? low : undefined;
  } catch {
    return undefined;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Whatever port the kernel hands out. */
function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** `preferred` if it is free on 127.0.0.1, else any free port. */
export async function preferPort(preferred: number): Promise<number> {
  return (await isFree(preferred)) ? preferred : findFreePort();
}

/**
 * Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes. A check that
 * throws counts as "not yet"; the last such error is named in the timeout, so a wait that
 * failed because its probe kept failing says so.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error; // not yet
    }
    if (Date.now() > deadline) {
      const why = lastError === undefined ? "" : ` (the last check threw: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
