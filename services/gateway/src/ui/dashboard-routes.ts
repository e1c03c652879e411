/**
 * The web dashboard at /ui, served by every replica (it keeps no state of its own):
 *   GET  /ui                 the page, or the sign-in form without a valid token cookie
 *   GET  /ui?token=<jwt>     signs in (the link `npm start` prints) and redirects to /ui
 *   POST /ui/login           signs in with a pasted token; POST /ui/logout signs out
 *   GET  /ui/api/overview    peers and jobs;  GET /ui/api/jobs/<id>  one job
 *   GET  /ui/api/jobs/<id>/frames/<n>  redirects to a render's stored frame n
 *   POST /ui/api/jobs/<id>/<action>   cancel | pause | resume | requeue_failed | set_priority
 *   GET  /ui/api/events?job=<id>      server-sent events: `overview` and `job` snapshots
 *
 * The token travels in an HttpOnly, SameSite=Strict cookie, so no other site can send it;
 * actions also need the `x-fabric-ui` header, which a cross-site form cannot set. Every view
 * comes from the tools (ui-views.ts) under the token's user: a user sees only their own.
 *
 * Live updates are fed from NATS: the stream listens on the user's job events
 * (`user.<u>.job.*`) and sends fresh snapshots at most every 400 ms while something changed,
 * and every few seconds regardless (peers' heartbeats are not job events). A farm job's
 * snapshot is its summary and one page of tasks, not the whole job.
 */
import { readFile } from "node:fs/promises";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import { AuthError, AuthErrorCode, type TokenVerifier, type VerifiedIdentity } from "@blender-fabric/auth";
import { FARM_CONTROL_ACTIONS, IdentifierSchema, subjectForAllJobs } from "@blender-fabric/protocol";
import type { GatewayServices } from "../services.js";
import type { UiViews } from "./ui-views.js";

export const TOKEN_COOKIE = "fabric_token";
const ACTION_HEADER = "x-fabric-ui";
/** Least time between two snapshots of one stream. ms */
const SNAPSHOT_SPACING_MS = 400;
/** Snapshots are sent at least this often (peers' last-seen, ETAs). ms */
const SNAPSHOT_EVERY_MS = 3_000;

type Variables = { identity: VerifiedIdentity };

const page = (name: string) => readFile(new URL(`../../ui/${name}`, import.meta.url));

/** The token of a request: its Bearer header, else the dashboard's cookie. */
export const tokenOf = (c: Context) => c.req.header("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? getCookie(c, TOKEN_COOKIE);

/** Like the Bearer middleware, but the cookie also counts (the dashboard's page and its images). */
export function createCookieAuth(verifyToken: TokenVerifier): MiddlewareHandler<{ Variables: Variables }> {
  return async (c, next) => {
    c.set("identity", await verifyToken(tokenOf(c)));
    await next();
  };
}

export function createDashboardRoutes(options: { verifyToken: TokenVerifier; views: UiViews; services: GatewayServices; guardEdge: MiddlewareHandler }): Hono<{ Variables: Variables }> {
  const { verifyToken, views, services } = options;
  const ui = new Hono<{ Variables: Variables }>();
  ui.use(options.guardEdge);

  /** Signs in with `token`: a cookie that lives as long as the token does. */
  const signIn = async (c: Context, token: string | undefined) => {
    const identity = await verifyToken(token);
    if (identity.role === "blender-client") throw new AuthError(AuthErrorCode.Invalid, "this token is a Blender peer's; sign in with a user's token");
    const expires = expiryOf(token!);
    setCookie(c, TOKEN_COOKIE, token!, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      secure: new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https",
      ...(expires ? { expires: new Date(expires * 1000) } : {}),
    });
    return c.redirect("/ui", 303);
  };
  const loginPage = async (c: Context, error: string | undefined, status: 200 | 401) => {
    const html = (await page("login.html")).toString().replace("<!--error-->", error ? `<p class="error">${escapeHtml(error)}</p>` : "");
    return c.html(html, status);
  };

  ui.get("/", async (c) => {
    const linked = c.req.query("token");
    try {
      if (linked) return await signIn(c, linked);
      await verifyToken(getCookie(c, TOKEN_COOKIE));
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      return loginPage(c, linked || getCookie(c, TOKEN_COOKIE) ? error.message : undefined, linked ? 401 : 200);
    }
    return c.html((await page("dashboard.html")).toString());
  });
  ui.get("/assets/:file{dashboard\\.(js|css)}", async (c) => {
    const file = c.req.param("file");
    return c.body(new Uint8Array(await page(file)), 200, { "content-type": file.endsWith(".js") ? "text/javascript" : "text/css" });
  });
  ui.post("/login", async (c) => {
    const form = await c.req.parseBody();
    try {
      return await signIn(c, typeof form.token === "string" ? form.token.trim() : undefined);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      return loginPage(c, error.message, 401);
    }
  });
  ui.post("/logout", (c) => {
    deleteCookie(c, TOKEN_COOKIE, { path: "/" });
    return c.redirect("/ui", 303);
  });

  const api = new Hono<{ Variables: Variables }>();
  api.use(createCookieAuth(verifyToken));
  api.get("/overview", async (c) => c.json(await views.overview(c.get("identity"))));
  api.get("/jobs/:id", async (c) => {
    const id = IdentifierSchema.safeParse(c.req.param("id"));
    if (!id.success) return c.json({ status: "invalid_params", field: "job_id", error: "job_id: not a job id" }, 400);
    return c.json(await views.job(c.get("identity"), id.data));
  });
  api.get("/jobs/:id/frames/:frame{[0-9]+}", async (c) => {
    const id = IdentifierSchema.safeParse(c.req.param("id"));
    const url = id.success ? await views.frameUrl(c.get("identity"), id.data, Number(c.req.param("frame"))) : undefined;
    return url ? c.redirect(url, 302) : c.json({ status: "not_found", error: "no such frame stored" }, 404);
  });
  api.post("/jobs/:id/:action", async (c) => {
    if (c.req.header(ACTION_HEADER) !== "1") return c.json({ status: "forbidden", error: `actions need the ${ACTION_HEADER} header` }, 403);
    const { id, action } = c.req.param();
    const identity = c.get("identity");
    if (action === "cancel") return c.json(await views.call(identity, "blender_job_cancel", { job_id: id }));
    if (!(FARM_CONTROL_ACTIONS as readonly string[]).includes(action)) return c.json({ status: "invalid_params", field: "action", error: `action: one of cancel, ${FARM_CONTROL_ACTIONS.join(", ")}` }, 400);
    const body = (await c.req.json().catch(() => ({}))) as { priority?: unknown };
    return c.json(await views.call(identity, "blender_farm_control", { job_id: id, action, priority: body.priority ?? null }));
  });
  api.get("/events", (c) => {
    const identity = c.get("identity");
    const jobId = IdentifierSchema.safeParse(c.req.query("job"));
    return streamSSE(c, async (stream) => {
      let changed = true;
      const subscription = services.nc.subscribe(subjectForAllJobs(identity.userId), {
        callback: () => {
          changed = true;
        },
      });
      const every = setInterval(() => {
        changed = true;
      }, SNAPSHOT_EVERY_MS);
      stream.onAbort(() => {
        subscription.unsubscribe();
        clearInterval(every);
      });
      try {
        while (!stream.aborted) {
          if (changed) {
            changed = false;
            await stream.writeSSE({ event: "overview", data: JSON.stringify(await views.overview(identity)) });
            if (jobId.success) await stream.writeSSE({ event: "job", data: JSON.stringify(await views.job(identity, jobId.data)) });
          }
          await stream.sleep(SNAPSHOT_SPACING_MS);
        }
      } finally {
        subscription.unsubscribe();
        clearInterval(every);
      }
    });
  });
  ui.route("/api", api);
  return ui;
}

/** A verified token's `exp` (epoch seconds), read from its payload. */
function expiryOf(token: string): number | undefined {
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { exp?: unknown };
  return typeof payload.exp === "number" ? payload.exp : undefined;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
