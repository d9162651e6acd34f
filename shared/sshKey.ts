import sshpk from "sshpk";

// Accept only what Azure puts on a Linux VM: OpenSSH-format public keys of ED25519 or RSA
// ≥ 2048 bits ("Supported SSH key formats", learn.microsoft.com/azure/virtual-machines/linux/
// create-ssh-keys-detailed; ECDSA and other types are not supported and fail the VM create).
// Private keys are refused loudly: pasting one into a request is a leak we should not store.

export const SSH_PUBLIC_KEY_MAX_LENGTH = 16 * 1024;
const MIN_RSA_BITS = 2048;

export interface SshKeyInfo {
  type: "ed25519" | "rsa";
  bits: number;
  fingerprint: string;
  /** "type base64 [comment]" on one line, as written to authorized_keys. */
  normalized: string;
}

export function checkSshPublicKey(text: string): SshKeyInfo | { error: string } {
  if (text.length > SSH_PUBLIC_KEY_MAX_LENGTH) return { error: `must be at most ${SSH_PUBLIC_KEY_MAX_LENGTH} characters` };
  const trimmed = text.trim();
  if (/PRIVATE KEY/.test(trimmed) || looksLikePrivateKey(trimmed)) {
    return { error: "is a private key; send only the public key (the .pub file), and consider this private key exposed" };
  }
  if (trimmed.includes("\n")) return { error: "must be a single line in OpenSSH format (ssh-ed25519 AAAA… comment)" };
  let key: sshpk.Key;
  try {
    key = sshpk.parseKey(trimmed, "ssh");
  } catch {
    return { error: "is not an OpenSSH public key (expected 'ssh-ed25519 AAAA… comment' or ssh-rsa)" };
  }
  if (key.type === "rsa") {
    if (key.size < MIN_RSA_BITS) return { error: `RSA keys must be at least ${MIN_RSA_BITS} bits (this one has ${key.size})` };
  } else if (key.type !== "ed25519") {
    return { error: `key type ${key.type} is not supported by Azure VMs; use ed25519 or RSA ≥ ${MIN_RSA_BITS} bits` };
  }
  return {
    type: key.type,
    bits: key.size,
    fingerprint: key.fingerprint("sha256").toString(),
    normalized: key.toString("ssh"),
  };
}

function looksLikePrivateKey(text: string): boolean {
  try {
    sshpk.parsePrivateKey(text, "auto");
    return true;
  } catch {
    return false;
  }
}
