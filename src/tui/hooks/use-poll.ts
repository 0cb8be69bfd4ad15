// Loads the current screen's data now, then every `intervalMs` after the previous load finished
// (never two loads at once), keeps the last good data per key so a failing database leaves the
// screen as it was, and reports the connection state. Timers are cleared on unmount.
import { useCallback, useEffect, useRef, useState } from "react";
import type { ConnectionState } from "../model.ts";

export interface Loaded<T> {
  data: T;
  /** Database time of the load (ms). */
  dbMs: number;
}

export interface PollStatus {
  state: ConnectionState;
  error: string | null;
  /** Date.now() of the last successful load; null before the first. */
  lastOkAt: number | null;
  dbMs: number | null;
  refreshing: boolean;
}

export interface PollResult<T> {
  data: T | undefined;
  status: PollStatus;
  /** Load now (queued behind a running load rather than overlapping it). */
  refresh: () => void;
}

export interface PollOptions {
  intervalMs: number;
  paused: boolean;
  /** A load slower than this (database ms) shows "degraded". */
  slowMs?: number;
}

const INITIAL: PollStatus = { state: "connecting", error: null, lastOkAt: null, dbMs: null, refreshing: false };

export function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, " ").trim() || "unknown error";
}

export function usePoll<T>(key: string, load: () => Promise<Loaded<T>>, options: PollOptions): PollResult<T> {
  const cache = useRef(new Map<string, T>());
  const [, setVersion] = useState(0);
  const [status, setStatus] = useState<PollStatus>(INITIAL);
  const loadRef = useRef(load);
  const keyRef = useRef(key);
  loadRef.current = load;
  keyRef.current = key;
  const inFlight = useRef(false);
  const queued = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const alive = useRef(true);
  const optionsRef = useRef(options);
  optionsRef.current = options;

  const run = useCallback(async (): Promise<void> => {
    if (inFlight.current) {
      queued.current = true;
      return;
    }
    inFlight.current = true;
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    const loadingKey = keyRef.current;
    setStatus((s) => ({ ...s, refreshing: true }));
    try {
      const loaded = await loadRef.current();
      if (!alive.current) return;
      cache.current.set(loadingKey, loaded.data);
      const slow = loaded.dbMs > (optionsRef.current.slowMs ?? 1000);
      setStatus({ state: slow ? "degraded" : "ok", error: slow ? `slow: ${Math.round(loaded.dbMs)} ms` : null, lastOkAt: Date.now(), dbMs: loaded.dbMs, refreshing: false });
      setVersion((v) => v + 1);
    } catch (error) {
      if (!alive.current) return;
      setStatus((s) => ({ ...s, state: "down", error: errorText(error), refreshing: false }));
    } finally {
      inFlight.current = false;
      if (alive.current) afterLoad();
    }
  }, []);

  function afterLoad(): void {
    if (queued.current) {
      queued.current = false;
      void run();
      return;
    }
    if (!optionsRef.current.paused) timer.current = setTimeout(() => void run(), optionsRef.current.intervalMs);
  }

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
      if (timer.current) clearTimeout(timer.current);
    };
  }, []);

  // A new key (another screen or page) loads at once; resuming from pause loads at once.
  useEffect(() => {
    void run();
  }, [key, run]);

  useEffect(() => {
    if (options.paused) {
      if (timer.current) clearTimeout(timer.current);
      timer.current = null;
    } else if (!inFlight.current && timer.current === null) {
      void run();
    }
  }, [options.paused, run]);

  return { data: cache.current.get(key), status, refresh: () => void run() };
}
