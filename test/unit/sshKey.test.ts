import sshpk from "sshpk";
import { describe, expect, it } from "vitest";
import { checkSshPublicKey } from "../../shared/sshKey";
import { keys } from "./keys";

describe("SSH public keys", () => {
  it("describes an accepted key and writes it on one line as authorized_keys wants it", () => {
    const parsed = sshpk.parseKey(keys.ed25519.publicKey, "ssh");
    expect(checkSshPublicKey(`\n  ${keys.ed25519.publicKey}  \n`)).toEqual({
      type: "ed25519",
      bits: 256,
      fingerprint: parsed.fingerprint("sha256").toString(),
      normalized: keys.ed25519.publicKey,
    });
    expect(checkSshPublicKey(keys.rsa2048.publicKey)).toMatchObject({ type: "rsa", bits: 2048 });
  });

  it.each<[string, string, string]>([
    ["a PEM private key", keys.ed25519.privateKeyPem, "is a private key; send only the public key (the .pub file), and consider this private key exposed"],
    ["an OpenSSH private key", keys.rsa2048.privateKeyOpenSsh, "is a private key; send only the public key (the .pub file), and consider this private key exposed"],
    // No "PRIVATE KEY" in the text: only parsing it shows what it is.
    ["a PuTTY .ppk private key", keys.ed25519.privateKeyPutty, "is a private key; send only the public key (the .pub file), and consider this private key exposed"],
    ["two keys on two lines", `${keys.ed25519.publicKey}\n${keys.rsa2048.publicKey}`, "must be a single line in OpenSSH format (ssh-ed25519 AAAA… comment)"],
    ["not a key", "ssh-ed25519 AAAAnotakey", "is not an OpenSSH public key (expected 'ssh-ed25519 AAAA… comment' or ssh-rsa)"],
    ["a PEM public key", sshpk.parseKey(keys.ed25519.publicKey, "ssh").toString("pem"), "must be a single line in OpenSSH format (ssh-ed25519 AAAA… comment)"],
    ["RSA 1024", keys.rsa1024.publicKey, "RSA keys must be at least 2048 bits (this one has 1024)"],
  ])("refuses %s", (_case, text, error) => {
    expect(checkSshPublicKey(text)).toEqual({ error });
  });

  it("refuses text over 16 KiB before parsing it", () => {
    expect(checkSshPublicKey(`${keys.ed25519.publicKey} ${"x".repeat(16 * 1024)}`)).toEqual({ error: "must be at most 16384 characters" });
    const exactly = `${keys.ed25519.publicKey} `.padEnd(16 * 1024, "x");
    expect(checkSshPublicKey(exactly)).not.toEqual({ error: "must be at most 16384 characters" });
  });
});
