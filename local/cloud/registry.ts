// A read-only container registry, standing in for the workspace's Azure Container Registry:
// the pull side of the OCI distribution API (GET/HEAD /v2/, manifests, blobs) over the
// emulator's HTTPS, serving OCI image layouts from a folder (`local/cloud/job-image.sh`, run by
// .ci/run, writes one: <dir>/<repository>/{oci-layout,index.json,blobs/sha256/…}, tags in the
// index's org.opencontainers.image.ref.name annotations). Errors are the distribution spec's
// JSON ({errors:[{code,message,detail}]}) with ACR's wording, so a failed pull shows what a
// registry says. Not anonymous, as ACR is not: every /v2/ request needs an access token from
// the token service in front of it (registryAuth.ts), which wants an identity holding AcrPull.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RegistryAuth } from "./registryAuth";
import { Gate } from "./gate";

/** Where .ci/run's image script puts the layouts, shared by every clone on this machine. */
export function defaultRegistryDir(): string {
  return process.env.CLOUD_REGISTRY_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "compute-instances", "registry");
}

type Descriptor = { mediaType: string; digest: string; size: number; annotations?: Record<string, string> };

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Pull counts per repository (manifest GETs by tag or digest), for tests that check caching. */
export class Registry {
  readonly pulls = new Map<string, number>();
  /** Tests close it to freeze these requests mid-flight (an agent killed during a pull or a login). */
  private readonly gate = new Gate();

  constructor(
    readonly dir: string,
    readonly auth: RegistryAuth,
  ) {}

  /** Holds blob downloads until the returned function is called. */
  holdBlobs(): () => void {
    return this.gate.close();
  }

  /** Answers /v2/… and the token service's /oauth2/… requests; false when the path is not the registry's. `service`: its login server (host:port). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, service: string): Promise<boolean> {
    if (await this.auth.handle(req, res, url, service)) return true;
    const pathname = url.pathname;
    if (pathname !== "/v2" && !pathname.startsWith("/v2/")) return false;
    const method = (req.method ?? "GET").toUpperCase();
    res.setHeader("Docker-Distribution-API-Version", "registry/2.0");
    const repository = /^\/v2\/(.+)\/(?:manifests|blobs)\/[^/]+$/.exec(pathname)?.[1];
    if (!this.auth.authorize(req, res, service, repository && NAME.test(repository) ? repository : undefined)) return true;
    if (method !== "GET" && method !== "HEAD") {
      error(res, 405, "UNSUPPORTED", "the operation is unsupported (this registry is read-only)");
      return true;
    }
    if (pathname === "/v2" || pathname === "/v2/") {
      send(res, method, 200, "application/json", Buffer.from("{}"));
      return true;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(pathname);
    if (!m || !NAME.test(m[1]!)) {
      error(res, 404, "NAME_INVALID", "invalid repository name");
      return true;
    }
    const [, name, kind, ref] = m as unknown as [string, string, string, string];
    const repo = path.join(this.dir, ...name.split("/"));
    const index = readIndex(repo);
    if (!index) {
      error(res, 404, "NAME_UNKNOWN", `repository "${name}" is not found`, { Name: name });
      return true;
    }
    if (kind === "manifests") {
      const desc = DIGEST.test(ref) ? index.find((d) => d.digest === ref) : index.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === ref);
      if (!desc) {
        error(res, 404, "MANIFEST_UNKNOWN", DIGEST.test(ref) ? `manifest ${ref} is not found` : `manifest tagged by "${ref}" is not found`, DIGEST.test(ref) ? { Digest: ref } : { Tag: ref });
        return true;
      }
      if (method === "GET") this.pulls.set(name, (this.pulls.get(name) ?? 0) + 1);
      const body = blob(repo, desc.digest);
      if (!body) {
        error(res, 404, "MANIFEST_UNKNOWN", `manifest ${desc.digest} is not found`);
        return true;
      }
      res.setHeader("Docker-Content-Digest", desc.digest);
      send(res, method, 200, desc.mediaType, body);
      return true;
    }
    await this.gate.passed();
    const file = DIGEST.test(ref) ? path.join(repo, "blobs", "sha256", ref.slice("sha256:".length)) : undefined;
    const size = file ? fs.statSync(file, { throwIfNoEntry: false })?.size : undefined;
    if (!file || size === undefined) {
      error(res, 404, "BLOB_UNKNOWN", "blob unknown to registry", { Digest: ref });
      return true;
    }
    // Layers are large: streamed, not read into memory.
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": size, "Docker-Content-Digest": ref });
    if (method === "HEAD") res.end();
    else fs.createReadStream(file).on("error", () => res.destroy()).pipe(res);
    return true;
  }
}

function readIndex(repo: string): Descriptor[] | undefined {
  try {
    const index = JSON.parse(fs.readFileSync(path.join(repo, "index.json"), "utf8")) as { manifests?: Descriptor[] };
    return index.manifests ?? [];
  } catch {
    return undefined;
  }
}

function blob(repo: string, digest: string): Buffer | undefined {
  try {
    return fs.readFileSync(path.join(repo, "blobs", "sha256", digest.slice("sha256:".length)));
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, method: string, status: number, contentType: string, body: Buffer): void {
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": body.length });
  res.end(method === "HEAD" ? undefined : body);
}

function error(res: ServerResponse, status: number, code: string, message: string, detail?: Record<string, string>): void {
  const body = Buffer.from(JSON.stringify({ errors: [{ code, message, ...(detail ? { detail } : {}) }] }));
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": body.length });
  res.end(body);
}
