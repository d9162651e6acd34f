// Small hooks: polling that keeps the last data while it refreshes (no flicker), and the route.
import { useEffect, useRef, useState } from "preact/hooks";

export type Polled<T> = { data: T | undefined; error: unknown; refresh: () => void };

/**
 * Calls `load` now and every `intervalMs` while the page is visible; `data` keeps the last answer
 * during a refresh. `intervalMs` null: load once. A change of `key` starts over.
 */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number | null, key: string): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (document.visibilityState !== "hidden") {
        try {
          const got = await loadRef.current();
          if (stopped) return;
          setData(got);
          setError(undefined);
        } catch (err) {
          if (!stopped) setError(err);
        }
      }
      if (!stopped && intervalMs !== null) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [key, intervalMs, tick]);
  useEffect(() => setData(undefined), [key]);
  return { data, error, refresh: () => setTick((t) => t + 1) };
}

export type Route = { page: "list" } | { page: "create" } | { page: "instance"; name: string };

export function parseRoute(hash: string): Route {
  const m = /^#\/instances\/([^/?#]+)/.exec(hash);
  if (m) return { page: "instance", name: decodeURIComponent(m[1]!) };
  if (hash.startsWith("#/create")) return { page: "create" };
  return { page: "list" };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
