// HTTP invocations start one per event-loop turn.
//
// On Azure the app runs in the worker process: its synchronous work never holds up the host,
// which goes on accepting connections and reading requests. Here both share one event loop,
// and a listening socket accepts one connection per loop turn (libuv/libuv#3696, Node 20). When
// every request that arrived in a turn started its function at once, a burst of handlers with
// synchronous work (the worker's e2e suite busy-waits up to 10 ms in 95 % of 1,024 requests)
// made each turn long and left new connections unaccepted for seconds. Starting one function per
// turn lets the loop accept and read between them, as the host would meanwhile.
const queued: (() => void)[] = [];
let scheduled = false;

/** Runs `start` in a later turn of the event loop, after the starts queued before it. */
export function startInTurn<T>(start: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    queued.push(() => start().then(resolve, reject));
    if (!scheduled) {
      scheduled = true;
      setImmediate(next);
    }
  });
}

function next(): void {
  queued.shift()?.();
  // setImmediate from inside an immediate runs in the next turn, after that turn's I/O.
  if (queued.length > 0) setImmediate(next);
  else scheduled = false;
}
