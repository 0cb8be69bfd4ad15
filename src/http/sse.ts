// GET|HEAD /events as Server-Sent Events: a replay of buffered events (after Last-Event-ID when
// given), then live events, each framed with `id:`, and a `: ping` comment at a fixed interval so
// proxies with read timeouts (Django's is 30 s) keep the stream open. Auth, routing and the
// server's write/idle timeout are the caller's job.
import {
  type EventBroker,
  type EventSubscription,
  type TaskEvent,
  eventJson,
  parseEventFilter,
} from "../observability/events.ts";

export interface EventStreamOptions {
  /** Interval between `: ping` comments (15 000 in production). */
  pingIntervalMs: number;
  /** Unread frames a client may fall behind by before its stream is closed; default 500. */
  maxBacklog?: number;
}

const encoder = new TextEncoder();
const RETRY_FRAME = encoder.encode("retry: 3000\n\n");
const PING_FRAME = encoder.encode(": ping\n\n");
// Events are frozen, so each is serialised and encoded once however many clients receive it.
const frames = new WeakMap<TaskEvent, Uint8Array>();

function eventFrame(event: TaskEvent): Uint8Array {
  let frame = frames.get(event);
  if (frame === undefined) {
    frame = encoder.encode(`id: ${event.id}\ndata: ${eventJson(event)}\n\n`);
    frames.set(event, frame);
  }
  return frame;
}

function sseHeaders(): Headers {
  return new Headers({
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
  });
}

/** Last-Event-ID header, else the `last_event_id` query parameter (for clients without headers). */
function lastEventId(request: Request, params: URLSearchParams): number | null {
  const raw = (request.headers.get("last-event-id") ?? params.get("last_event_id") ?? "").trim();
  return /^[0-9]+$/.test(raw) ? Number(raw) : null;
}

export function eventStream(broker: EventBroker, request: Request, options: EventStreamOptions): Response {
  const params = new URL(request.url).searchParams;
  const filter = parseEventFilter(params);
  if ("error" in filter) {
    return new Response(filter.error, { status: 400, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  }
  if (request.method === "HEAD") return new Response(null, { status: 200, headers: sseHeaders() });

  const lastId = lastEventId(request, params);
  const maxBacklog = Math.max(1, Math.floor(options.maxBacklog ?? 500));

  // Frames wait in `queue` until the socket takes them. A direct stream's write() returns a
  // pending promise while the socket is full, so a client that stops reading leaves frames in
  // `queue`; past maxBacklog its stream is failed (buffered bytes dropped, connection closed) and
  // it resumes from the replay buffer with Last-Event-ID. publish never waits on a client.
  const queue: Uint8Array[] = [];
  let open = true;
  let wake: () => void = () => {};
  let closed: () => void = () => {};
  const whenClosed = new Promise<void>((resolve) => (closed = resolve));
  let subscription: EventSubscription | undefined;
  let ping: ReturnType<typeof setInterval> | undefined;

  const finish = (): void => {
    if (!open) return;
    open = false;
    subscription?.unsubscribe();
    clearInterval(ping);
    request.signal.removeEventListener("abort", finish);
    queue.length = 0;
    closed();
    wake();
  };
  const send = (frame: Uint8Array): void => {
    if (!open) return;
    if (queue.length >= maxBacklog) {
      finish();
      return;
    }
    queue.push(frame);
    wake();
  };

  if (request.signal.aborted) return new Response(null, { status: 499 });
  request.signal.addEventListener("abort", finish, { once: true });
  send(RETRY_FRAME);
  subscription = broker.subscribe(filter, (event) => send(eventFrame(event)), lastId);
  for (const event of subscription.replay) send(eventFrame(event));
  if (open) ping = setInterval(() => send(PING_FRAME), options.pingIntervalMs);

  const body = new ReadableStream({
    type: "direct",
    async pull(controller: ReadableStreamDirectController) {
      try {
        while (open) {
          const frame = queue.shift();
          if (frame === undefined) {
            await controller.flush();
            if (queue.length === 0 && open) await new Promise<void>((resolve) => (wake = resolve));
            continue;
          }
          const written = controller.write(frame);
          if (written === 0) break; // the client went away
          if (typeof written !== "number") await Promise.race([written, whenClosed]);
        }
      } catch {
        // The socket failed: treat it as a disconnect.
      } finally {
        finish();
        try {
          // Ends the response. For a client that stopped reading, Bun holds at most the one frame
          // the socket did not take (write() accepted it), so nothing grows after this.
          controller.close();
        } catch {
          // Already closed.
        }
      }
    },
    cancel: finish,
  });

  return new Response(body, { status: 200, headers: sseHeaders() });
}
