// Tails a worker's /events stream while mounted: reconnects with backoff and Last-Event-ID so no
// buffered event is missed, keeps the newest `keep` events, and aborts the request on unmount.
import { useEffect, useState } from "react";
import { pause } from "../../abort.ts";
import { SseParser, backoffMs, toTailEvent, type TailEvent } from "../sse.ts";

export type StreamState = "off" | "connecting" | "live" | "retrying";

export interface EventsTail {
  state: StreamState;
  events: TailEvent[];
  error: string | null;
}

export interface EventsOptions {
  url: string | null;
  token: string | null;
  keep?: number;
}

export function useEvents(options: EventsOptions): EventsTail {
  const [tail, setTail] = useState<EventsTail>({ state: options.url ? "connecting" : "off", events: [], error: null });
  useEffect(() => {
    if (!options.url) return;
    const abort = new AbortController();
    void streamLoop(options.url, options.token, abort.signal, options.keep ?? 200, setTail);
    return () => abort.abort();
  }, [options.url, options.token, options.keep]);
  return tail;
}

type SetTail = (update: (tail: EventsTail) => EventsTail) => void;

async function streamLoop(url: string, token: string | null, signal: AbortSignal, keep: number, setTail: SetTail): Promise<void> {
  let lastId: string | null = null;
  let failures = 0;
  while (!signal.aborted) {
    try {
      lastId = await streamOnce(url, token, lastId, signal, keep, setTail, () => (failures = 0));
      failures = 0; // the server closed a working stream: reconnect promptly
    } catch (error) {
      if (signal.aborted) return;
      failures++;
      const message = error instanceof Error ? error.message : String(error);
      setTail((t) => ({ ...t, state: "retrying", error: message }));
    }
    await pause(failures === 0 ? 500 : backoffMs(failures), signal);
  }
}

async function streamOnce(url: string, token: string | null, lastId: string | null, signal: AbortSignal, keep: number, setTail: SetTail, onOpen: () => void): Promise<string | null> {
  const headers: Record<string, string> = { Accept: "text/event-stream" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (lastId) headers["Last-Event-ID"] = lastId;
  const response = await fetch(url, { headers, signal });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  onOpen();
  setTail((t) => ({ ...t, state: "live", error: null }));
  const parser = new SseParser();
  const decoder = new TextDecoder();
  let id = lastId;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const frames = parser.feed(decoder.decode(chunk, { stream: true }));
    if (frames.length === 0) continue;
    id = frames[frames.length - 1]!.id ?? id;
    const events = frames.map(toTailEvent);
    setTail((t) => ({ ...t, events: [...t.events, ...events].slice(-keep) }));
  }
  return id;
}

