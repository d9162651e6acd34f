// App Service Authentication also admits callers with an Entra token for the app's audience
// (a VM's managed identity calling the app, e.g. the job agent) and passes their claims on in
// `x-ms-client-principal`. Locally the tokens come from the cloud emulator; this verifies them
// with its public key (LOCAL_IDENTITY_PUBLIC_KEY_FILE) for the audience JOBS_AGENT_APP_AUDIENCE.
// Without those settings no JWT is admitted.
import fs from "node:fs";
import { verifyToken } from "../../cloud/identity";
import type { TokenVerifier } from "./principal";

export function managedIdentityVerifier(env: NodeJS.ProcessEnv): TokenVerifier | undefined {
  const file = env.LOCAL_IDENTITY_PUBLIC_KEY_FILE;
  const audience = env.JOBS_AGENT_APP_AUDIENCE;
  if (!file || !audience) return undefined;
  let pem: string | undefined;
  return (token) => {
    // Read lazily: the emulator may write its key after the host starts.
    pem ??= fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    if (!pem) return { error: "no token issuer is configured" };
    const verified = verifyToken(pem, token, audience);
    if ("error" in verified) return { error: verified.error };
    const claims = verified.claims;
    return {
      userId: claims.oid,
      name: claims.oid,
      roles: [],
      claims: { oid: claims.oid, ...(claims.xms_mirid ? { xms_mirid: claims.xms_mirid } : {}) },
    };
  };
}
