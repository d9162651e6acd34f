import type { ErrorDetail } from "../errors";
import type { Settings } from "../settings";

// Container registry policy for jobs that name an image (environment.image). An image reference
// is `[registry/]repository[:tag][@digest]`, as Docker reads it: the first path component is a
// registry when it has a dot or a port, or is `localhost`; otherwise the image is on Docker Hub.
// Only registries the workspace lists (ALLOWED_JOB_REGISTRIES) may be used; none listed means
// no job may name an image.

export type RegistryPolicy = Pick<Settings, "allowedJobRegistries">;

export const DOCKER_HUB = "docker.io";

/** The distribution spec's grammar, lower-case repository components, at most 255 characters for the name. */
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const REGISTRY = "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?)";
const REFERENCE = new RegExp(`^(?:(${REGISTRY})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`);

export type ImageRef = { registry: string; repository: string; tag?: string; digest?: string };

/** Parses an image reference; undefined when it is not one. */
export function parseImageRef(ref: string): ImageRef | undefined {
  const m = REFERENCE.exec(ref);
  if (!m) return undefined;
  let [, registry, repository] = m as unknown as [string, string | undefined, string];
  // "ubuntu/x" names Docker Hub's user "ubuntu"; "host.example/x" and "localhost:5000/x" a registry.
  if (registry !== undefined && !/[.:]/.test(registry) && registry !== "localhost") {
    repository = `${registry}/${repository}`;
    registry = undefined;
  }
  return { registry: (registry ?? DOCKER_HUB).toLowerCase(), repository, ...(m[3] ? { tag: m[3] } : {}), ...(m[4] ? { digest: m[4] } : {}) };
}

/** Policy check of a job's image; errors name `environment.image`. */
export function checkJobImage(image: string, policy: RegistryPolicy): ErrorDetail[] {
  const target = "environment.image";
  const ref = parseImageRef(image);
  if (!ref) {
    return [{ code: "InvalidValue", target, message: "is not an image reference ([registry/]repository[:tag][@sha256:digest], lower-case repository)" }];
  }
  const allowed = policy.allowedJobRegistries;
  if (!allowed.includes(ref.registry)) {
    const listed = allowed.length ? `allowed registries: ${allowed.join(", ")}` : "the workspace allows no registries (ALLOWED_JOB_REGISTRIES)";
    return [{ code: "RegistryNotAllowed", target, message: `registry '${ref.registry}' is not allowed by the workspace policy; ${listed}` }];
  }
  return [];
}
