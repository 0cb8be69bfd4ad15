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
  /** Connections accepted so far. */
  readonly accepted: number;
}

export async function startTcpProxy(target: { host: string; port: number }, options: { replyDelayMs?: number } = {}): Promise<TcpProxy> {
  const replyDelayMs = options.replyDelayMs ?? 0;
  const sockets = new Set<Socket>();
  let refusing = false;
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
    client.pipe(upstream);
    if (replyDelayMs > 0) {
      upstream.on("data", (chunk: Buffer) => setTimeout(() => client.destroyed || client.write(chunk), replyDelayMs));
      upstream.on("end", () => setTimeout(() => client.end(), replyDelayMs));
    } else {
      upstream.pipe(client);
    }
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
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
