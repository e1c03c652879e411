/**
 * The HTTP edge (MCP Streamable HTTP, "Security Warning"): a browser page must not reach the
 * gateway through DNS rebinding, so `Host` and `Origin` are checked on every route that acts
 * for a user, before authentication, and a mismatch gets 403. Bodies are capped (413) before
 * anything reads them, so neither refusal ever reaches NATS.
 *
 * - `Host`: loopback names always pass. Configured hosts (FABRIC_ALLOWED_HOSTS) pass too. With
 *   none configured, a gateway bound to loopback accepts only loopback names; one bound to a
 *   public interface (behind a load balancer) accepts any host. POST /nats/credentials gets a
 *   guard of its own that also passes FABRIC_CREDENTIAL_HOSTS (the in-cluster Service name).
 * - `Origin`: absent (SDK and CLI clients send none) passes; otherwise it must be a loopback
 *   origin or one of FABRIC_ALLOWED_ORIGINS.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { JsonRpcCode, jsonRpcError } from "./errors.js";

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export type EdgePolicy = {
  /** The interface the gateway is bound to (FABRIC_HTTP_HOST). */
  boundTo: string;
  /** Extra host names that pass (e.g. fabric.example.com). */
  allowedHosts: string[];
  /** Extra origins that pass, exactly (e.g. https://console.example.com). */
  allowedOrigins: string[];
};

/** The host name of a `Host` header value or URL authority, lowercased; undefined if unparsable. */
const hostNameOf = (authority: string) => {
  try {
    return new URL(`http://${authority}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
};

export function hostAllowed(policy: EdgePolicy, host: string | undefined): boolean {
  const name = host === undefined ? undefined : hostNameOf(host);
  if (!name) return false;
  if (LOOPBACK_NAMES.has(name) || policy.allowedHosts.some((allowed) => allowed.toLowerCase() === name)) return true;
  return policy.allowedHosts.length === 0 && !LOOPBACK_NAMES.has(policy.boundTo);
}

export function originAllowed(policy: EdgePolicy, origin: string | undefined): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed pages, file://) and garbage
  }
  if ((url.protocol === "http:" || url.protocol === "https:") && LOOPBACK_NAMES.has(url.hostname)) return true;
  return policy.allowedOrigins.includes(url.origin);
}

/** Whether `origin` is the page's own: the same host (and port) the request was sent to. */
const sameOrigin = (origin: string | undefined, host: string | undefined) => {
  if (!origin || !host) return false;
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
};

/**
 * `sameOriginPasses`: a page served by the gateway itself (the dashboard) may call it from its
 * own origin, once its Host passed.
 */
export function createEdgeGuard(policy: EdgePolicy, options: { sameOriginPasses?: boolean } = {}): MiddlewareHandler {
  return async function guardEdge(c, next) {
    const host = c.req.header("host");
    if (!hostAllowed(policy, host)) {
      return jsonRpcError(403, JsonRpcCode.Refused, "Forbidden: this Host is not served here (FABRIC_ALLOWED_HOSTS)");
    }
    const origin = c.req.header("origin");
    if (!(options.sameOriginPasses && sameOrigin(origin, host)) && !originAllowed(policy, origin)) {
      return jsonRpcError(403, JsonRpcCode.Refused, "Forbidden: requests from this Origin are not accepted (FABRIC_ALLOWED_ORIGINS)");
    }
    await next();
  };
}

/** 413 for a body over `maxBytes`, whether it says its length or streams. */
export const createBodyCap = (maxBytes: number, what: string): MiddlewareHandler =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => jsonRpcError(413, JsonRpcCode.Refused, `Payload too large: at most ${maxBytes} bytes (${what})`),
  });
