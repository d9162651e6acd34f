// The address the proxy listens on: the VM's private IP, from the instance metadata service
// (IMDS: the same endpoint protocol on Azure and in the local emulator, whose per-VM IMDS answers
// the VM's loopback address there, 127.x.y.z).
const IMDS_DEFAULT = "http://169.254.169.254";
const PATH = "/metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress?api-version=2021-02-01&format=text";

/** Retries until IMDS answers (it may lag the VM's boot). */
export async function privateAddress(env: NodeJS.ProcessEnv, log: (line: string) => void, signal?: AbortSignal): Promise<string> {
  const base = (env.AZURE_POD_IDENTITY_AUTHORITY_HOST || IMDS_DEFAULT).replace(/\/+$/, "");
  let delay = 200;
  for (;;) {
    try {
      const res = await fetch(`${base}${PATH}`, { headers: { Metadata: "true" }, signal: AbortSignal.timeout(5000) });
      const text = (await res.text()).trim();
      if (res.ok && /^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return text;
      log(`proxy: IMDS answered ${res.status} for the private IP`);
    } catch (err) {
      log(`proxy: IMDS: ${(err as Error).message}`);
    }
    if (signal?.aborted) throw new Error("stopped");
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(10_000, delay * 2);
  }
}
