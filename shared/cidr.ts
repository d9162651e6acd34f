import ipaddr from "ipaddr.js";

// Source prefixes for NSG rules. ipaddr.js alone accepts odd forms ("1.2.3", "0x7f.1"), which ARM
// would refuse or read differently, so IPv4 must be four-part decimal.

export type SourcePrefix =
  | { kind: "cidr"; prefix: string; version: 4 | 6; bits: number }
  /** An explicit "any source" token: "*", "Internet", "0.0.0.0/0" or "::/0". */
  | { kind: "any"; prefix: string };

export const ANY_SOURCE_TOKENS = ["*", "Internet", "Any"] as const;

export function parseSourcePrefix(raw: string): SourcePrefix | { error: string } {
  const text = raw.trim();
  if (text === "") return { error: "empty prefix" };
  if ((ANY_SOURCE_TOKENS as readonly string[]).some((t) => t.toLowerCase() === text.toLowerCase())) {
    return { kind: "any", prefix: text === "*" ? "*" : "Internet" };
  }
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const bitsText = slash === -1 ? undefined : text.slice(slash + 1);
  let version: 4 | 6;
  if (ipaddr.IPv4.isValidFourPartDecimal(addressText)) version = 4;
  else if (ipaddr.IPv6.isValid(addressText) && addressText.includes(":")) version = 6;
  else return { error: `'${text}' is not an IP address or CIDR prefix` };

  const maxBits = version === 4 ? 32 : 128;
  // Digits only: no sign, no exponent, so never negative.
  const bits = bitsText === undefined ? maxBits : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!Number.isInteger(bits) || bits > maxBits) {
    return { error: `'${text}' has an invalid prefix length (0..${maxBits})` };
  }
  const cidr = `${addressText}/${bits}`;
  const network = version === 4 ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  const address = ipaddr.parse(addressText);
  if (network.toNormalizedString() !== address.toNormalizedString()) {
    // Host bits set is almost always a typo in a security setting; say what was probably meant.
    return { error: `'${text}' has host bits set; did you mean ${network.toString()}/${bits}?` };
  }
  if (bits === 0) return { kind: "any", prefix: version === 4 ? "0.0.0.0/0" : "::/0" };
  return { kind: "cidr", prefix: bits === maxBits ? addressText : cidr, version, bits };
}
