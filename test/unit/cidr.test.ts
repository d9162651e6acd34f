import { describe, expect, it } from "vitest";
import { parseSourcePrefix } from "../../shared/cidr";

// SSH source prefixes as ARM reads them: four-part decimal IPv4 or IPv6, an optional prefix
// length, no host bits, and "any source" only when spelled out.
describe("NSG source prefixes", () => {
  it.each<[string, ReturnType<typeof parseSourcePrefix>]>([
    ["203.0.113.0/24", { kind: "cidr", prefix: "203.0.113.0/24", version: 4, bits: 24 }],
    [" 198.51.100.17 ", { kind: "cidr", prefix: "198.51.100.17", version: 4, bits: 32 }],
    ["198.51.100.17/32", { kind: "cidr", prefix: "198.51.100.17", version: 4, bits: 32 }],
    ["10.0.0.0/8", { kind: "cidr", prefix: "10.0.0.0/8", version: 4, bits: 8 }],
    ["2001:db8::/32", { kind: "cidr", prefix: "2001:db8::/32", version: 6, bits: 32 }],
    ["2001:db8::1", { kind: "cidr", prefix: "2001:db8::1", version: 6, bits: 128 }],
    ["2001:db8::1/128", { kind: "cidr", prefix: "2001:db8::1", version: 6, bits: 128 }],
    ["0.0.0.0/0", { kind: "any", prefix: "0.0.0.0/0" }],
    ["::/0", { kind: "any", prefix: "::/0" }],
    ["*", { kind: "any", prefix: "*" }],
    ["internet", { kind: "any", prefix: "Internet" }],
    ["Any", { kind: "any", prefix: "Internet" }],
  ])("%j → %j", (raw, expected) => {
    expect(parseSourcePrefix(raw)).toEqual(expected);
  });

  it.each<[string, string]>([
    ["", "empty prefix"],
    ["   ", "empty prefix"],
    ["10.1.2", "'10.1.2' is not an IP address or CIDR prefix"],
    ["0x7f.0.0.1", "'0x7f.0.0.1' is not an IP address or CIDR prefix"],
    ["anywhere", "'anywhere' is not an IP address or CIDR prefix"],
    ["2001:db8::g/32", "'2001:db8::g/32' is not an IP address or CIDR prefix"],
    ["/24", "'/24' is not an IP address or CIDR prefix"],
    ["203.0.113.0/33", "'203.0.113.0/33' has an invalid prefix length (0..32)"],
    ["2001:db8::/129", "'2001:db8::/129' has an invalid prefix length (0..128)"],
    ["203.0.113.0/", "'203.0.113.0/' has an invalid prefix length (0..32)"],
    ["203.0.113.0/+8", "'203.0.113.0/+8' has an invalid prefix length (0..32)"],
    ["203.0.113.0/0024", "'203.0.113.0/0024' has an invalid prefix length (0..32)"],
    ["203.0.113.0/-1", "'203.0.113.0/-1' has an invalid prefix length (0..32)"],
    ["203.0.113.5/24", "'203.0.113.5/24' has host bits set; did you mean 203.0.113.0/24?"],
    ["2001:db8::1/32", "'2001:db8::1/32' has host bits set; did you mean 2001:db8::/32?"],
  ])("refuses %j", (raw, error) => {
    expect(parseSourcePrefix(raw)).toEqual({ error });
  });
});
