// Pulls from the workspace's Azure Container Registry with the VM's managed identity, as
// Azure/acr docs/AAD-OAuth.md describes it: an Entra ID token for ACR's audience (IMDS) is
// exchanged at https://<registry>/oauth2/exchange for an ACR refresh token, which `docker login`
// takes as the password of the null-GUID user; Docker then gets access tokens itself.
// The credentials never reach a log, an argument list or the OS disk: the refresh token goes to
// `docker login` on stdin, into a per-job Docker config folder under /run (tmpfs on the VM,
// root only), which the job's runner deletes as soon as the pull is done (agent.ts logs in
// when the runner asks: only when the image must be pulled).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { TokenCredential } from "@azure/core-auth";

/** ACR's Entra ID audience (an ARM token also works while the registry allows it; this one always does). */
export const ACR_SCOPE = "https://containerregistry.azure.net/.default";
/** The user name that tells ACR the password is an ACR refresh token. */
const REFRESH_TOKEN_USER = "00000000-0000-0000-0000-000000000000";
const TIMEOUT_MS = 30_000;

/** A login that failed: the message is the registry's (or says which step failed), never a credential. */
export class RegistryLoginError extends Error {}

/** The registry host of an image reference (Docker's rule: a first component with "." or ":", or "localhost"; otherwise Docker Hub). */
export function registryOf(image: string): string {
  const slash = image.indexOf("/");
  const first = slash < 0 ? "" : image.slice(0, slash);
  return first && (first.includes(".") || first.includes(":") || first === "localhost") ? first.toLowerCase() : "docker.io";
}

/**
 * Logs the runtime in to `registry` as this VM, into a fresh Docker config folder `configDir`
 * (created 0700). Throws RegistryLoginError with the registry's message when it refuses.
 */
export async function loginWithVmIdentity(credential: TokenCredential, runtime: string, registry: string, configDir: string): Promise<void> {
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  let aad: string;
  try {
    const t = await credential.getToken(ACR_SCOPE, { abortSignal: signal });
    if (!t) throw new Error("no token");
    aad = t.token;
  } catch (err) {
    throw new RegistryLoginError(`the VM's identity has no token for the registry: ${(err as Error).message.split("\n")[0]}`);
  }
  let res: Response;
  try {
    res = await fetch(`https://${registry}/oauth2/exchange`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "access_token", service: registry, access_token: aad }).toString(),
      signal,
    });
  } catch (err) {
    const e = err as Error & { cause?: Error };
    throw new RegistryLoginError(`${registry} could not be reached: ${e.cause?.message ?? e.message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new RegistryLoginError(`${registry} refused the VM's identity: ${registryMessage(res.status, text)}`);
  let refresh: unknown;
  try {
    refresh = (JSON.parse(text) as { refresh_token?: unknown }).refresh_token;
  } catch {
    refresh = undefined;
  }
  if (typeof refresh !== "string" || !refresh) throw new RegistryLoginError(`${registry} answered the token exchange without a refresh token`);
  fs.rmSync(configDir, { recursive: true, force: true });
  fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });
  await dockerLogin(runtime, registry, refresh, configDir);
}

/** `docker login` with the refresh token on stdin (never in argv, where `ps` shows it). */
function dockerLogin(runtime: string, registry: string, password: string, configDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(runtime, ["login", registry, "--username", REFRESH_TOKEN_USER, "--password-stdin"], {
      env: { ...process.env, DOCKER_CONFIG: configDir },
      stdio: ["pipe", "ignore", "pipe"],
      timeout: TIMEOUT_MS,
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", (err) => reject(new RegistryLoginError(`docker login could not run: ${err.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new RegistryLoginError(`docker login to ${registry} failed: ${lastLine(stderr) || `exit code ${code}`}`));
    });
    child.stdin.end(password);
  });
}

/** "unauthorized: authentication required, …" — the distribution spec's error as Docker prints it. */
function registryMessage(status: number, body: string): string {
  try {
    const e = (JSON.parse(body) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
    if (e?.message) return `${(e.code ?? String(status)).toLowerCase()}: ${e.message}`;
  } catch {
    // not the spec's JSON
  }
  return `HTTP ${status}`;
}

const lastLine = (s: string) => s.trim().split("\n").pop()?.trim() ?? "";

/** The per-job Docker config folder (VM_ROOT-prefixed path under /run). */
export const loginDir = (runDir: string, jobId: string) => path.join(runDir, "docker", jobId.replace(/[^A-Za-z0-9_.-]/g, "-"));
