import { generateKeyPairSync } from "node:crypto";
import sshpk from "sshpk";

// Test keys generated per run: no key material is committed.
function ssh(type: "ed25519" | "rsa" | "ec", options: Record<string, unknown> = {}) {
  const pair = generateKeyPairSync(type as "ed25519", {
    ...options,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  } as never) as unknown as { publicKey: string; privateKey: string };
  const pub = sshpk.parseKey(pair.publicKey, "pem");
  pub.comment = "alice@laptop";
  return { publicKey: pub.toString("ssh"), privateKeyPem: pair.privateKey, privateKeyOpenSsh: sshpk.parsePrivateKey(pair.privateKey, "pem").toString("ssh-private") };
}

export const keys = {
  ed25519: ssh("ed25519"),
  rsa2048: ssh("rsa", { modulusLength: 2048 }),
  rsa1024: ssh("rsa", { modulusLength: 1024 }),
  ecdsa: ssh("ec", { namedCurve: "prime256v1" }),
};
