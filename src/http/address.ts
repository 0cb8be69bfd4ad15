// Where the worker's HTTP server listens. Kept apart from the server so the worker can check the
// setting without loading the server (and its auth and metrics libraries) when it is off.
import type { MetricsConfig } from "../config/index.ts";
import { ConfigError } from "../errors.ts";

export interface ListenAddress {
  /** "" = all interfaces. */
  host: string;
  port: number;
}

/**
 * metrics.addr ("host:port", ":port", "[::1]:port") wins over metrics.port (all interfaces);
 * null when neither is set.
 */
export function listenAddress(config: Pick<MetricsConfig, "addr" | "port">): ListenAddress | null {
  const addr = config.addr.trim();
  if (addr === "") return config.port > 0 ? { host: "", port: config.port } : null;
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65_535) {
    throw new ConfigError([`metrics.addr must be host:port (e.g. 127.0.0.1:9090 or :9090), got "${addr}"`]);
  }
  return { host: match[1] ?? match[2] ?? "", port };
}
