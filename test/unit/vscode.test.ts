// VS Code through the agent's proxy (agent/workstation/vscode.ts): what counts as use on its
// WebSocket (not the keep-alives an idle open tab sends), which commands in its integrated
// terminals hold idle off, and the path code-server sees. Where the machine has no
// code-server it says so; test/e2e/workstation.apps checks that through the API.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { carriesInput, terminalCommands, upstreamPath, VsCode } from "../../agent/workstation/vscode";

/** A frame of VS Code's remote protocol: type, id, ack, length (13 bytes), then the data. */
const frame = (type: number, data = Buffer.alloc(0)) => {
  const header = Buffer.alloc(13);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(data.length, 9);
  return Buffer.concat([header, data]);
};

describe("VS Code", () => {
  it("counts messages that carry data as input, not the protocol's keep-alives and acknowledgements", () => {
    expect(carriesInput(frame(9), true)).toBe(false); // keep-alive
    expect(carriesInput(frame(3), true)).toBe(false); // ack
    expect(carriesInput(frame(1, Buffer.from("x")), true)).toBe(true); // regular: an edit, a command
    expect(carriesInput(Buffer.from("{}"), false)).toBe(true);
  });

  it("reports commands running in its integrated terminals, not idle shells or its own processes", () => {
    // code-server (10) → its node server (11) → pty host (12) → bash (13, runs python 14) and zsh (15, idle).
    const children: Record<number, number[]> = { 10: [11], 11: [12, 20], 12: [13, 15], 13: [14], 20: [21] };
    const comms: Record<number, string> = { 11: "node", 12: "node", 13: "bash", 14: "python3", 15: "zsh", 20: "node", 21: "node" };
    const table = { childrenOf: (p: number) => children[p] ?? [], comm: (p: number) => comms[p] ?? "?" };
    expect(terminalCommands(table, 10)).toEqual(["python3"]);
    expect(terminalCommands(table, 99)).toEqual([]);
  });

  it("serves code-server at the root of its socket: /vscode is the proxy's", () => {
    expect(upstreamPath("/vscode/")).toBe("/");
    expect(upstreamPath("/vscode/static/x.js?v=1")).toBe("/static/x.js?v=1");
    expect(upstreamPath("/vscode?folder=/home")).toBe("/?folder=/home");
  });

  it("says it is not installed where there is no code-server", () => {
    const app = new VsCode("/nonexistent", { PATH: "/nonexistent" }, {}, () => undefined);
    const status = app.status();
    if (status.state === "NotInstalled") expect(status.message).toBe("VS Code (browser) is not installed on this machine (no code-server).");
    else expect(["/usr/bin", "/usr/local/bin"].some((d) => fs.existsSync(`${d}/code-server`))).toBe(true);
  });
});
