// HTTP invocations start one per event-loop turn, so the host accepts and reads between them.
import { describe, expect, it } from "vitest";
import { startInTurn } from "../../local/host/http/turns";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("startInTurn", () => {
  it("starts queued functions in order, one per turn of the event loop", async () => {
    const started: number[] = [];
    const done = [1, 2, 3].map((n) => startInTurn(async () => (started.push(n), n * 10)));
    expect(started).toEqual([]); // nothing in the caller's turn
    await turn();
    expect(started).toEqual([1]);
    await turn();
    expect(started).toEqual([1, 2]);
    expect(await Promise.all(done)).toEqual([10, 20, 30]);
    expect(started).toEqual([1, 2, 3]);
  });

  it("lets other work run between two starts", async () => {
    const events: string[] = [];
    const a = startInTurn(async () => void events.push("a"));
    const b = startInTurn(async () => void events.push("b"));
    // Queued after a's turn began and before b's: the loop gets to it in between (its I/O too).
    setImmediate(() => events.push("other"));
    await Promise.all([a, b]);
    expect(events).toEqual(["a", "other", "b"]);
  });

  it("passes a failure on to its caller and goes on with the next", async () => {
    const failed = startInTurn(async () => {
      throw new Error("boom");
    });
    const next = startInTurn(async () => "next");
    await expect(failed).rejects.toThrow("boom");
    expect(await next).toBe("next");
  });
});
