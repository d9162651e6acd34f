// The one home of the rule "secrets never in logs": every structured log line passes through
// `redact` before it is written. Two nets: fields whose *name* says secret (tokens, keys,
// passwords, SAS, job variables, private keys) lose their value whatever it is; and strings
// anywhere lose the parts whose *shape* says secret (bearer tokens, JWTs, SAS signatures,
// storage account keys, function keys in URLs, PEM private keys). Job variables have no shape,
// so the name rule is what keeps them out: never log them under another name.

export const REDACTED = "[redacted]";

/**
 * Field names whose value is secret whatever it looks like (case-insensitive). `variables` and
 * `env` are a job's environment; `logs` are its write-only SAS URLs.
 */
const SECRET_FIELD =
  /^(authorization|token|accessToken|refreshToken|idToken|secret|clientSecret|password|passwd|apiKey|accountKey|sharedKey|masterKey|functionKey|x-functions-key|connectionString|AzureWebJobsStorage|sas|sasUrl|sasToken|sig|signature|privateKey|sshPrivateKey|variables|env|logs|identityHeader|IDENTITY_HEADER|CONTINUATION_TOKEN_KEY|continuationTokenKey)$/i;

/** Secret shapes inside free text. Each keeps a harmless prefix so the line stays readable. */
const SECRET_TEXT: [RegExp, string][] = [
  // PEM private keys (SSH, TLS): the whole block, even when cut short.
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, `${REDACTED} private key`],
  // OpenSSH private key bodies without the armour (base64 of "openssh-key-v1").
  [/b3BlbnNzaC1rZXktdjE[A-Za-z0-9+/=]*/g, REDACTED],
  // Authorization headers and their values.
  [/\b(Bearer|Basic|SharedKey|SharedKeyLite)\s+[A-Za-z0-9._~+/:=-]+/gi, `$1 ${REDACTED}`],
  // JWTs (managed-identity and Entra tokens) wherever they appear.
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // SAS signatures and function keys in URLs or query strings.
  [/([?&](?:sig|code|se?cret|token|access_token)=)[^&\s"']+/gi, `$1${REDACTED}`],
  // Storage connection strings.
  [/((?:AccountKey|SharedAccessSignature|SharedAccessKey)=)[^;\s"']+/gi, `$1${REDACTED}`],
];

export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name);
}

/** A copy of `value` safe to log: secret fields blanked, secret shapes cut out of every string. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > 8) return "[…]";
  if (value instanceof Error) return redactText(value.stack ?? value.message);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecretField(k) && v !== undefined && v !== null && v !== "" ? REDACTED : redact(v, depth + 1);
  }
  return out;
}
