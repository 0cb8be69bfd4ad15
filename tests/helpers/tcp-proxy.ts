// A TCP proxy the test controls, standing in for a database restart: `cut()` drops every
// connection and refuses new ones until `restore()`. With `replyDelayMs`, everything the server
// sends reaches the client that much later (in order): a slow network, to count round trips.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  /** Drops every connection (with `reset`, as a TCP reset: the client sees ECONNRESET). */
  cut(options?: { reset?: boolean }): void;
  restore(): void;
  close(): Promise<void>;
  /**
   * Everything sent either way is dropped (connections stay open) until `thaw()`: a stopped
   * server or a dead network path, which the client notices only by the silence.
   */
  freeze(): void;
  thaw(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
}

export async function startTcpProxy(target: { host: string; port: number }, options: { replyDelayMs?: number } = {}): Promise<TcpProxy> {
  const replyDelayMs = options.replyDelayMs ?? 0;
  const sockets = new Set<Socket>();
  let refusing = false;
  let frozen = false;
  let accepted = 0;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => frozen || upstream.destroyed || upstream.write(chunk));
    client.on("end", () => upstream.end());
    upstream.on("data", (chunk: Buffer) => {
      if (frozen) return;
      if (replyDelayMs > 0) setTimeout(() => client.destroyed || client.write(chunk), replyDelayMs);
      else client.destroyed || client.write(chunk);
    });
    upstream.on("end", () => (replyDelayMs > 0 ? setTimeout(() => client.end(), replyDelayMs) : client.end()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    cut(options = {}) {
      refusing = true;
      for (const socket of sockets) options.reset ? socket.resetAndDestroy() : socket.destroy();
    },
    restore() {
      refusing = false;
    },
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
