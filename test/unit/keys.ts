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
  const priv = sshpk.parsePrivateKey(pair.privateKey, "pem");
  return { publicKey: pub.toString("ssh"), privateKeyPem: pair.privateKey, privateKeyOpenSsh: priv.toString("ssh-private"), privateKeyPutty: putty(pub, priv) };
}

// A PuTTY .ppk (version 2, unencrypted) as PuTTYgen saves it on Windows: unlike PEM and OpenSSH
// files it never says "PRIVATE KEY". The MAC is not checked by parsers that detect the format.
function putty(pub: sshpk.Key, priv: sshpk.PrivateKey): string {
  const sshString = (data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    return Buffer.concat([length, data]);
  };
  const parts = { ed25519: ["k"], rsa: ["d", "p", "q", "iqmp"], ecdsa: ["d"] }[priv.type as "ed25519" | "rsa" | "ecdsa"];
  const privateBlob = Buffer.concat(parts.map((name) => sshString(priv.part[name].data)));
  const lines = (blob: Buffer) => blob.toString("base64").match(/.{1,64}/g) ?? [];
  const publicLines = lines(pub.toBuffer("rfc4253"));
  const privateLines = lines(privateBlob);
  return [
    `PuTTY-User-Key-File-2: ${pub.toString("ssh").split(" ")[0]}`,
    "Encryption: none",
    "Comment: alice@laptop",
    `Public-Lines: ${publicLines.length}`,
    ...publicLines,
    `Private-Lines: ${privateLines.length}`,
    ...privateLines,
    `Private-MAC: ${"0".repeat(40)}`,
    "",
  ].join("\n");
}

export const keys = {
  ed25519: ssh("ed25519"),
  rsa2048: ssh("rsa", { modulusLength: 2048 }),
  rsa1024: ssh("rsa", { modulusLength: 1024 }),
  ecdsa: ssh("ec", { namedCurve: "prime256v1" }),
};
