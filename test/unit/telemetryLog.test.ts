import { describe, expect, it } from "vitest";
import { formatEvent, logger, traceIdOf, type LogSink } from "../../shared/telemetry/log";
import { redact, redactText, REDACTED } from "../../shared/telemetry/redact";
import { logLevelFilter, workerLogCategory } from "../../local/host/logLevels";

const PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----";
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ2bSJ9.c2lnbmF0dXJl";

describe("redaction (the one home of 'no secrets in logs')", () => {
  it.each([
    ["Authorization: Bearer alice-token", "alice-token"],
    [`token ${JWT} here`, JWT],
    ["https://acct.blob.core.windows.net/job-logs/x?sv=2024&se=2026&sp=racw&sig=AbC%2Bdef%3D", "AbC%2Bdef%3D"],
    ["DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02x==;BlobEndpoint=x", "Eby8vdM02x=="],
    ["GET /runtime/webhooks/durabletask/instances?code=masterkey123", "masterkey123"],
    [`key: ${PEM}`, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"],
    ["-----BEGIN RSA PRIVATE KEY-----\nMIIEow (cut short", "MIIEow"],
  ])("cuts the secret out of %j", (text, secret) => {
    const out = redactText(text);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
  });

  it("blanks fields named like secrets at any depth, whatever their value, and keeps the rest", () => {
    const out = redact({
      job: { id: "j1", variables: { SEED: "1", API_KEY: "plain" }, env: { X: "y" }, logs: { stdout: "u" } },
      headers: { authorization: "whatever", "x-functions-key": "k" },
      sshPublicKey: "ssh-ed25519 AAAA",
      idempotencyKey: "run-42",
      error: { code: "NotFound", message: "no" },
    });
    expect(out).toEqual({
      job: { id: "j1", variables: REDACTED, env: REDACTED, logs: REDACTED },
      headers: { authorization: REDACTED, "x-functions-key": REDACTED },
      sshPublicKey: "ssh-ed25519 AAAA",
      idempotencyKey: "run-42",
      error: { code: "NotFound", message: "no" },
    });
  });

  it("leaves ordinary text alone", () => {
    const text = "POST /api/instances/alice-1/jobs 202 (job 28t1yadwbjeyh8k4gvnj, exit code 0)";
    expect(redactText(text)).toBe(text);
  });
});

describe("structured log lines", () => {
  function capture(): LogSink & { lines: [string, string][] } {
    const lines: [string, string][] = [];
    const at = (level: string) => (...args: unknown[]) => void lines.push([level, String(args[0])]);
    return {
      lines,
      trace: at("trace"), debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"),
      traceContext: { traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    };
  }

  it("one JSON line with timestamp, level, message, ids and the invocation's trace id, at the sink's level", () => {
    const sink = capture();
    logger(sink, { instance: "alice-1", user: "alice" }).with({ job: "j1" }).warn("agent report refused", { variables: { A: "s3cret" } });
    expect(sink.lines).toHaveLength(1);
    const [level, line] = sink.lines[0]!;
    expect(level).toBe("warn");
    const event = JSON.parse(line) as Record<string, unknown>;
    expect(event).toEqual({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      level: "warning",
      message: "agent report refused",
      instance: "alice-1",
      user: "alice",
      job: "j1",
      trace: "0af7651916cd43dd8448eb211c80319c",
      variables: REDACTED,
    });
    expect(line).not.toContain("s3cret");
  });

  it("redacts secrets in the message itself", () => {
    expect(formatEvent("error", `call failed: Bearer ${JWT}`)).not.toContain(JWT);
  });

  it("reads trace ids only from valid traceparents", () => {
    expect(traceIdOf("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(traceIdOf("00-00000000000000000000000000000000-b7ad6b7169203331-01")).toBeUndefined();
    expect(traceIdOf("garbage")).toBeUndefined();
    expect(traceIdOf(undefined)).toBeUndefined();
  });
});

describe("host.json logging.logLevel (local host, as the Functions host filters)", () => {
  it("the longest matching category wins, else default; None silences", () => {
    const logged = logLevelFilter({ default: "Warning", Function: "Information", "Function.autoStopTick.User": "Error", "Host.Results": "None" });
    expect(logged("information", workerLogCategory("instancesPut", "user"))).toBe(true);
    expect(logged("debug", workerLogCategory("instancesPut", "user"))).toBe(false);
    expect(logged("warning", workerLogCategory("autoStopTick", "user"))).toBe(false);
    expect(logged("error", workerLogCategory("autoStopTick", "user"))).toBe(true);
    expect(logged("information", "Host.Startup")).toBe(false);
    expect(logged("critical", "Host.Results")).toBe(false);
    // A category prefix matches whole segments only.
    expect(logLevelFilter({ default: "Error", Func: "Trace" })("information", "Function.x.User")).toBe(false);
  });

  it("Information by default", () => {
    const logged = logLevelFilter(undefined);
    expect(logged("information", "Function.x.User")).toBe(true);
    expect(logged("debug", "Function.x.User")).toBe(false);
  });
});

describe("a 500's errorId", () => {
  it("is the invocation's trace id, and the log line with the stack carries it", async () => {
    const { InvocationContext } = await import("@azure/functions");
    const { errorResponse } = await import("../../functions/http/api");
    const lines: string[] = [];
    const ctx = new InvocationContext({
      traceContext: { traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
      logHandler: (_level, ...args) => void lines.push(String(args[0])),
    });
    const res = errorResponse(new Error("boom with Bearer abc.def"), ctx);
    expect(res.status).toBe(500);
    expect((res.jsonBody as { error: { errorId: string } }).error.errorId).toBe("0af7651916cd43dd8448eb211c80319c");
    const event = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(event).toMatchObject({ level: "error", trace: "0af7651916cd43dd8448eb211c80319c", errorId: "0af7651916cd43dd8448eb211c80319c" });
    expect(lines[0]).not.toContain("abc.def");
  });
});
