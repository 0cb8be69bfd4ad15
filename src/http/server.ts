// The worker's HTTP endpoints (SPEC §7): /healthz, /metrics and /events on one listener, HTTP or
// HTTPS (optionally mTLS), every path behind the same authorization. Exact paths only; other
// paths 404, other methods 405 (checked before auth, as the Go worker did).
import type { Server } from "bun";
import type { Registry } from "prom-client";
import type { MetricsConfig } from "../config/index.ts";
import { ConfigError, errorMessage } from "../errors.ts";
import type { EventBroker } from "../observability/events.ts";
import type { Logger } from "../observability/logger.ts";
import { exposition } from "../observability/metrics.ts";
import { Authorizer, describeExposure, normalizeRemoteIp, parseAllowList, UnauthorizedLimiter } from "./auth.ts";
import { listenAddress } from "./address.ts";
import { eventStream } from "./sse.ts";
import { loadTls } from "./tls.ts";

/** What /healthz reports: `ok` decides 200 or 503; `detail` is the ?verbose=1 JSON. */
export interface HealthReport {
  ok: boolean;
  /** Why not ok, for the warning log (never sent to the client). */
  problem?: string;
  detail: Record<string, unknown>;
}

export interface HttpServerOptions {
  config: MetricsConfig;
  logger: Logger;
  registry: Registry;
  broker: EventBroker;
  health: () => Promise<HealthReport>;
  /** `: ping` interval on /events; 15 s unless a test shortens it. */
  pingIntervalMs?: number;
}

export interface HttpServer {
  /** e.g. "http://127.0.0.1:9090" (the port actually bound). */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export { listenAddress, type ListenAddress } from "./address.ts";

const TEXT = { "Content-Type": "text/plain; charset=utf-8" };

/** Checks the address, allow-list and TLS files without listening (before the worker connects). */
export async function checkHttpConfig(config: MetricsConfig): Promise<void> {
  listenAddress(config);
  parseAllowList(config.allowCidrs);
  await loadTls({ cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa });
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { config, logger, registry, broker } = options;
  const address = listenAddress(config);
  if (!address) throw new ConfigError(["the HTTP server needs metrics.addr or metrics.port"]);
  const tls = await loadTls({ cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa });
  const allowList = parseAllowList(config.allowCidrs);
  const authorizer = new Authorizer({
    token: config.authToken,
    allowList,
    limiter: new UnauthorizedLimiter(config.authLimit, config.authWindowMs, config.authMaxEntries),
    logger,
  });
  const pingIntervalMs = options.pingIntervalMs ?? 15_000;

  const routes: Record<string, (request: Request, server: Server<undefined>) => Promise<Response> | Response> = {
    "/healthz": async (request) => {
      const report = await options.health();
      if (!report.ok) logger.warn("Health check failed", { error: report.problem ?? "unhealthy" });
      const status = report.ok ? 200 : 503;
      if (new URL(request.url).searchParams.get("verbose") === "1") {
        return Response.json({ status: report.ok ? "ok" : "unhealthy", ...report.detail }, { status });
      }
      return new Response(report.ok ? "ok" : "unhealthy", { status, headers: TEXT });
    },
    "/metrics": async () => new Response(await exposition(registry), { headers: { "Content-Type": registry.contentType } }),
    "/events": (request, server) => {
      server.timeout(request, 0); // a stream lives as long as the client wants it
      // A burst of completions can publish thousands of events in one tick; keep up to 4096 unread
      // frames (~1–2 MB) before closing a client that has stopped reading.
      return eventStream(broker, request, { pingIntervalMs, maxBacklog: 4096 });
    },
  };

  const serve = (hostname: string) => Bun.serve({
    hostname,
    port: address.port,
    ...(tls ? { tls } : {}),
    idleTimeout: 60,
    maxRequestBodySize: 1024 * 1024,
    async fetch(request, srv) {
      const path = new URL(request.url).pathname;
      const route = routes[path];
      if (!route) return new Response("404 page not found\n", { status: 404, headers: TEXT });
      if (request.method !== "GET" && request.method !== "HEAD") return new Response(null, { status: 405, headers: { Allow: "GET, HEAD" } });
      const remote = srv.requestIP(request)?.address ?? "";
      const verdict = await authorizer.check({
        method: request.method,
        path,
        remoteAddr: normalizeRemoteIp(remote),
        authorization: request.headers.get("authorization"),
      });
      if (!verdict.ok) return new Response(`${verdict.body}\n`, { status: verdict.status, headers: TEXT });
      // HEAD gets the same status and headers; Bun sends no body for it.
      return route(request, srv);
    },
    error(error) {
      logger.error("Metrics server error", { error: errorMessage(error) });
      return new Response("internal error\n", { status: 500, headers: TEXT });
    },
  });
  // ":9090" means every interface, IPv4 and IPv6 as Go listens; "::" is dual-stack. A host
  // without IPv6 falls back to every IPv4 interface.
  const server = address.host !== "" ? serve(address.host) : serveAllInterfaces(serve);

  const exposure = describeExposure({
    listenHost: address.host,
    tokenSet: config.authToken !== "",
    allowListSet: allowList !== null,
    clientCaSet: config.tlsClientCa !== "",
  });
  if (exposure) logger.warn("Metrics endpoint has no auth; bind to localhost or set --metrics-auth-token", { addr: `${address.host}:${server.port}`, detail: exposure });
  const scheme = tls ? "https" : "http";
  const shownHost = address.host === "" ? server.hostname === "::" ? "[::]" : "0.0.0.0" : address.host.includes(":") ? `[${address.host}]` : address.host;
  const url = `${scheme}://${shownHost}:${server.port}`;
  logger.info("Serving health and metrics", { addr: url, tls: tls !== null, mtls: config.tlsClientCa !== "" });

  let stopping: Promise<void> | null = null;
  return {
    url,
    port: server.port ?? address.port,
    stop() {
      // Open /events streams never end on their own: close them (forcefully) after in-flight
      // scrapes had a moment to finish.
      stopping ??= Promise.race([server.stop(false), Bun.sleep(500)]).then(() => server.stop(true));
      return stopping;
    },
  };
}

function serveAllInterfaces<T>(serve: (hostname: string) => T): T {
  try {
    return serve("::");
  } catch {
    return serve("0.0.0.0");
  }
}
