// The emulator's TLS identity: a self-signed certificate for 127.0.0.1 and localhost, made on
// first start under DATA_DIR/cloud/tls and reused, so clients can pin it as their CA.
import fs from "node:fs";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import selfsigned from "selfsigned";

export type TlsIdentity = { cert: string; key: string; certFile: string };

export async function ensureCertificate(cloudDir: string): Promise<TlsIdentity> {
  const dir = path.join(cloudDir, "tls");
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    const cert = fs.readFileSync(certFile, "utf8");
    // Renew a certificate that expires within a day; otherwise keep the one clients trust.
    if (Date.parse(new X509Certificate(cert).validTo) > Date.now() + 86_400_000) {
      return { cert, key: fs.readFileSync(keyFile, "utf8"), certFile };
    }
  }
  const notAfterDate = new Date();
  notAfterDate.setFullYear(notAfterDate.getFullYear() + 5);
  const pems = await selfsigned.generate([{ name: "commonName", value: "127.0.0.1" }, { name: "organizationName", value: "local cloud emulator" }], {
    keySize: 2048,
    algorithm: "sha256",
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 2, value: "localhost" }] },
    ],
  });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
  fs.writeFileSync(certFile, pems.cert);
  return { cert: pems.cert, key: pems.private, certFile };
}
