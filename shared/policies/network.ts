import { sameResourceId } from "../armIds";
import type { ErrorDetail } from "../errors";
import type { Settings } from "../settings";

// Placement policy: an instance goes into an allowed subnet (the first allowed one by
// default), and gets a public IP only where the workspace allows it.

export type NetworkPolicy = Pick<Settings, "allowedSubnetIds" | "allowPublicIp">;

export interface NetworkPlacement {
  subnetId: string;
  publicIp: boolean;
}

export function resolveNetwork(
  request: { subnetId?: string; enablePublicIp?: boolean },
  policy: NetworkPolicy,
): NetworkPlacement | { errors: ErrorDetail[] } {
  const errors: ErrorDetail[] = [];
  let subnetId: string | undefined = policy.allowedSubnetIds[0];
  if (request.subnetId !== undefined) {
    // Return the policy's spelling: ARM ids are case-insensitive, but one spelling keeps records comparable.
    subnetId = policy.allowedSubnetIds.find((allowed) => sameResourceId(allowed, request.subnetId as string));
    if (subnetId === undefined) {
      errors.push({
        code: "SubnetNotAllowed",
        target: "subnetId",
        message: "is not one of the subnets the workspace allows (ALLOWED_SUBNET_IDS)",
      });
    }
  }
  if (subnetId === undefined && errors.length === 0) {
    errors.push({ code: "SubnetNotAllowed", target: "subnetId", message: "no subnet is configured for the workspace" });
  }
  if (request.enablePublicIp === true && !policy.allowPublicIp) {
    errors.push({
      code: "PublicIpNotAllowed",
      target: "enablePublicIp",
      message: "public IP addresses are not allowed by the workspace network policy",
    });
  }
  if (errors.length > 0 || subnetId === undefined) return { errors };
  return { subnetId, publicIp: request.enablePublicIp === true };
}
