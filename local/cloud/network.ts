// Microsoft.Network: virtual networks and subnets (seeded from settings, read-only), network
// security groups, public IPs and NICs with ARM validation, references and LROs.
import { randomUUID } from "node:crypto";
import ipaddr from "ipaddr.js";
import type { OpKind } from "./config";
import { netId, parseId, type ArmRequest, type ArmResult, type Ctx } from "./context";
import { ArmError, arr, canonical, invalidParameter, obj, str, type Json, type JsonObject } from "./http";
import { defaultSecurityRules, validateSecurityRules } from "./nsgRules";
import { key, type NetRecord, type State } from "./store";

type Coll = "nsgs" | "publicIps" | "nics";
const TYPES: Record<Coll, string> = {
  nsgs: "Microsoft.Network/networkSecurityGroups",
  publicIps: "Microsoft.Network/publicIPAddresses",
  nics: "Microsoft.Network/networkInterfaces",
};
const etag = () => `W/"${randomUUID()}"`;

// ---------- seeding ----------

/** Creates the VNets/subnets named by ALLOWED_SUBNET_IDS (10.<n>.0.0/16 with /24 subnets). */
export function seedNetworks(ctx: Ctx): void {
  const vnets = ctx.store.state.vnets;
  for (const subnetId of ctx.opts.allowedSubnetIds) {
    const p = parseId(subnetId);
    if (!p || p.segments.length !== 4 || p.segments[0].toLowerCase() !== "virtualnetworks" || p.segments[2].toLowerCase() !== "subnets") {
      throw new Error(`ALLOWED_SUBNET_IDS: '${subnetId}' is not a subnet resource ID`);
    }
    const vnetId = subnetId.split("/").slice(0, -2).join("/");
    let rec = vnets[key(vnetId)];
    if (!rec) {
      const n = Object.keys(vnets).length;
      rec = {
        id: vnetId, requestHash: "",
        body: {
          id: vnetId, name: p.segments[1], type: "Microsoft.Network/virtualNetworks", location: ctx.opts.location, etag: etag(),
          properties: { provisioningState: "Succeeded", resourceGuid: randomUUID(), addressSpace: { addressPrefixes: [`10.${n}.0.0/16`] }, subnets: [] },
        },
      };
      vnets[key(vnetId)] = rec;
    }
    const props = rec.body.properties as JsonObject;
    const subnets = props.subnets as JsonObject[];
    if (subnets.some((s) => String(s.name).toLowerCase() === p.segments[3].toLowerCase())) continue;
    const base = String((props.addressSpace as JsonObject & { addressPrefixes: string[] }).addressPrefixes[0]).split(".");
    subnets.push({
      id: subnetId, name: p.segments[3], type: "Microsoft.Network/virtualNetworks/subnets", etag: etag(),
      properties: { provisioningState: "Succeeded", addressPrefix: `${base[0]}.${base[1]}.${subnets.length}.0/24`, privateEndpointNetworkPolicies: "Disabled", privateLinkServiceNetworkPolicies: "Enabled" },
    });
  }
  ctx.store.save();
}

export function findSubnet(state: State, subnetId: string): JsonObject | undefined {
  const vnetId = subnetId.split("/").slice(0, -2).join("/");
  const name = subnetId.split("/").pop()?.toLowerCase();
  const vnet = state.vnets[key(vnetId)];
  const subnets = (vnet?.body.properties as JsonObject | undefined)?.subnets as JsonObject[] | undefined;
  return subnets?.find((s) => String(s.name).toLowerCase() === name);
}

// ---------- computed references ----------

function nicsWhere(state: State, pred: (ipc: JsonObject, nic: NetRecord) => boolean): NetRecord[] {
  return Object.values(state.nics).filter((nic) => ipConfigs(nic).some((c) => pred(c, nic)));
}
const ipConfigs = (nic: NetRecord) => ((nic.body.properties as JsonObject).ipConfigurations as JsonObject[]) ?? [];
const ipcProps = (c: JsonObject) => c.properties as JsonObject;
const refId = (v: Json | undefined) => str(obj(v)?.id);

export function vmUsingNic(state: State, nicId: string): string | undefined {
  for (const vm of Object.values(state.vms)) {
    const nics = arr(obj(obj(vm.body.properties)?.networkProfile)?.networkInterfaces) ?? [];
    if (nics.some((n) => refId(n)?.toLowerCase() === nicId.toLowerCase())) return vm.id;
  }
  return undefined;
}

function view(ctx: Ctx, coll: Coll | "vnets", rec: NetRecord): JsonObject {
  const state = ctx.store.state;
  const body = structuredClone(rec.body);
  const props = body.properties as JsonObject;
  if (coll === "nsgs") {
    props.networkInterfaces = Object.values(state.nics)
      .filter((n) => refId((n.body.properties as JsonObject).networkSecurityGroup)?.toLowerCase() === key(rec.id))
      .map((n) => ({ id: n.id }));
  } else if (coll === "publicIps") {
    const nic = nicsWhere(state, (c) => refId(ipcProps(c).publicIPAddress)?.toLowerCase() === key(rec.id))[0];
    const ipc = nic && ipConfigs(nic).find((c) => refId(ipcProps(c).publicIPAddress)?.toLowerCase() === key(rec.id));
    if (ipc) props.ipConfiguration = { id: String(ipc.id) };
  } else if (coll === "nics") {
    const vm = vmUsingNic(state, rec.id);
    if (vm) {
      props.virtualMachine = { id: vm };
      props.macAddress = macFor(rec.id);
      props.primary = true;
    }
  }
  return body;
}

function subnetView(state: State, subnet: JsonObject): JsonObject {
  const body = structuredClone(subnet);
  const refs = nicsWhere(state, (c) => refId(ipcProps(c).subnet)?.toLowerCase() === String(subnet.id).toLowerCase())
    .flatMap((nic) => ipConfigs(nic).map((c) => ({ id: String(c.id) })));
  (body.properties as JsonObject).ipConfigurations = refs;
  return body;
}

function macFor(id: string): string {
  let h = 0;
  for (const ch of id.toLowerCase()) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const b = [0x00, 0x0d, 0x3a, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return b.map((x) => x.toString(16).padStart(2, "0").toUpperCase()).join("-");
}

// ---------- generic PUT / GET / DELETE ----------

const notFound = (type: string, name: string, rg: string) =>
  new ArmError(404, "ResourceNotFound", `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);

export function requireLocation(ctx: Ctx, raw: JsonObject): string {
  const location = str(raw.location);
  if (!location) throw new ArmError(400, "LocationRequired", "The location property is required for this definition.", "location");
  if (location.toLowerCase().replace(/\s/g, "") !== ctx.opts.location.toLowerCase()) {
    throw new ArmError(400, "LocationNotAvailableForResourceType", `The provided location '${location}' is not available for this resource type. List of available regions: '${ctx.opts.location}'.`, "location");
  }
  return ctx.opts.location;
}

function put(ctx: Ctx, req: ArmRequest, coll: Coll, typeSeg: string, kind: OpKind,
  build: (id: string, raw: JsonObject, existing: NetRecord | undefined) => JsonObject): ArmResult {
  const id = netId(req.m, typeSeg, req.m.name);
  const raw = req.body();
  const location = requireLocation(ctx, raw);
  const hash = canonical(raw);
  const existing = ctx.store.state[coll][key(id)];
  const pending = existing?.pendingOpId ? ctx.ops.get(existing.pendingOpId) : undefined;
  if (pending?.status === "InProgress") {
    if (existing!.requestHash === hash && pending.kind === kind) {
      return { status: 200, body: view(ctx, coll, existing!), headers: ctx.ops.headers(pending, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, false) };
    }
    throw new ArmError(409, "AnotherOperationInProgress", `Another operation on this or dependent resource is in progress. To retry later, use the Retry-After header. Resource: ${id}.`);
  }
  // The same body again is a no-op, unless the last attempt failed (then ARM tries again).
  const lastFailed = (existing?.body.properties as JsonObject | undefined)?.provisioningState === "Failed";
  if (existing && existing.requestHash === hash && !lastFailed) return { status: 200, body: view(ctx, coll, existing) };
  const props = build(id, raw, existing);
  const body: JsonObject = {
    id, name: req.m.name, type: TYPES[coll], location, etag: etag(),
    ...(obj(raw.tags) ? { tags: raw.tags } : {}),
    ...(obj(raw.sku) ? { sku: raw.sku } : {}),
    properties: { ...props, provisioningState: "Updating", resourceGuid: str((existing?.body.properties as JsonObject | undefined)?.resourceGuid) ?? randomUUID() },
  };
  const op = ctx.ops.begin(kind, "Microsoft.Network", id, ctx.config.latencyMs[kind]);
  const rec: NetRecord = { id, body, requestHash: hash, pendingOpId: op.id };
  ctx.store.state[coll][key(id)] = rec;
  ctx.store.save();
  return { status: existing ? 200 : 201, body: view(ctx, coll, rec), headers: ctx.ops.headers(op, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, false) };
}

function get(ctx: Ctx, req: ArmRequest, coll: Coll, typeSeg: string): ArmResult {
  const id = netId(req.m, typeSeg, req.m.name);
  const rec = ctx.store.state[coll][key(id)];
  if (!rec) throw notFound(TYPES[coll], req.m.name, req.m.rg);
  return { status: 200, body: view(ctx, coll, rec) };
}

function del(ctx: Ctx, req: ArmRequest, coll: Coll, typeSeg: string, kind: OpKind, inUse: (rec: NetRecord) => ArmError | undefined): ArmResult {
  const id = netId(req.m, typeSeg, req.m.name);
  const rec = ctx.store.state[coll][key(id)];
  if (!rec) return { status: 204 };
  const pending = rec.pendingOpId ? ctx.ops.get(rec.pendingOpId) : undefined;
  if (pending?.status === "InProgress") {
    if (pending.kind === kind) return { status: 202, headers: ctx.ops.headers(pending, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, true) };
    throw new ArmError(409, "AnotherOperationInProgress", `Another operation on this or dependent resource is in progress. Resource: ${id}.`);
  }
  const err = inUse(rec);
  if (err) throw err;
  const op = ctx.ops.begin(kind, "Microsoft.Network", id, ctx.config.latencyMs[kind]);
  rec.pendingOpId = op.id;
  (rec.body.properties as JsonObject).provisioningState = "Deleting";
  ctx.store.save();
  return { status: 202, headers: ctx.ops.headers(op, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, true) };
}

export function registerNetworkCompleters(ctx: Ctx): void {
  const finishPut = (coll: Coll) => (op: { resourceId: string }) => {
    const rec = ctx.store.state[coll][key(op.resourceId)];
    if (!rec) return;
    (rec.body.properties as JsonObject).provisioningState = "Succeeded";
    delete rec.pendingOpId;
    ctx.store.save();
  };
  const finishDelete = (coll: Coll) => (op: { resourceId: string }) => {
    delete ctx.store.state[coll][key(op.resourceId)];
    ctx.store.save();
  };
  // An injected failure leaves the resource Failed (a PUT) or still there (a DELETE).
  const failed = (coll: Coll) => (op: { resourceId: string }) => {
    const rec = ctx.store.state[coll][key(op.resourceId)];
    if (!rec) return;
    (rec.body.properties as JsonObject).provisioningState = "Failed";
    delete rec.pendingOpId;
    ctx.store.save();
  };
  for (const [coll, put, del] of [["nsgs", "nsgPut", "nsgDelete"], ["publicIps", "publicIpPut", "publicIpDelete"], ["nics", "nicPut", "nicDelete"]] as const) {
    ctx.ops.registerFailure(put, failed(coll));
    ctx.ops.registerFailure(del, failed(coll));
  }
  ctx.ops.register("nsgPut", finishPut("nsgs"));
  ctx.ops.register("publicIpPut", finishPut("publicIps"));
  ctx.ops.register("nicPut", finishPut("nics"));
  ctx.ops.register("nsgDelete", finishDelete("nsgs"));
  ctx.ops.register("publicIpDelete", finishDelete("publicIps"));
  ctx.ops.register("nicDelete", finishDelete("nics"));
}

// ---------- NSG ----------

export const putNsg = (ctx: Ctx, req: ArmRequest) =>
  put(ctx, req, "nsgs", "networkSecurityGroups", "nsgPut", (id, raw) => {
    const p = obj(raw.properties) ?? {};
    return { securityRules: validateSecurityRules(p.securityRules, id), defaultSecurityRules: defaultSecurityRules(id) };
  });
export const getNsg = (ctx: Ctx, req: ArmRequest) => get(ctx, req, "nsgs", "networkSecurityGroups");
export const deleteNsg = (ctx: Ctx, req: ArmRequest) =>
  del(ctx, req, "nsgs", "networkSecurityGroups", "nsgDelete", (rec) => {
    const user = Object.values(ctx.store.state.nics).find((n) => refId((n.body.properties as JsonObject).networkSecurityGroup)?.toLowerCase() === key(rec.id));
    return user ? new ArmError(400, "InUseNetworkSecurityGroupCannotBeDeleted", `Network security group ${rec.id} cannot be deleted because it is in use by the following resources: ${user.id}. In order to delete the Network security group, remove the association with the resource(s).`) : undefined;
  });

// ---------- public IP ----------

export const putPublicIp = (ctx: Ctx, req: ArmRequest) =>
  put(ctx, req, "publicIps", "publicIPAddresses", "publicIpPut", (id, raw, existing) => {
    const p = obj(raw.properties) ?? {};
    const skuName = str(obj(raw.sku)?.name) ?? "Standard";
    if (skuName !== "Standard" && skuName !== "Basic") throw invalidParameter("sku.name", `The value '${skuName}' of sku.name is invalid; use Standard or Basic.`);
    const method = str(p.publicIPAllocationMethod) ?? (skuName === "Standard" ? "Static" : "Dynamic");
    if (method !== "Static" && method !== "Dynamic") throw invalidParameter("properties.publicIPAllocationMethod", `publicIPAllocationMethod must be Static or Dynamic.`);
    if (skuName === "Standard" && method !== "Static") {
      throw new ArmError(400, "StandardSkuPublicIPAddressesMustBeStatic", `Standard sku publicIp ${id} must have AllocationMethod set to Static.`, "properties.publicIPAllocationMethod");
    }
    const existingIp = str((existing?.body.properties as JsonObject | undefined)?.ipAddress);
    return {
      publicIPAddressVersion: str(p.publicIPAddressVersion) ?? "IPv4",
      publicIPAllocationMethod: method,
      idleTimeoutInMinutes: typeof p.idleTimeoutInMinutes === "number" ? p.idleTimeoutInMinutes : 4,
      ipTags: arr(p.ipTags) ?? [],
      ipAddress: existingIp ?? allocatePublicIp(ctx.store.state),
      ...(obj(p.dnsSettings) ? { dnsSettings: p.dnsSettings } : {}),
    };
  });
export const getPublicIp = (ctx: Ctx, req: ArmRequest) => get(ctx, req, "publicIps", "publicIPAddresses");
export const deletePublicIp = (ctx: Ctx, req: ArmRequest) =>
  del(ctx, req, "publicIps", "publicIPAddresses", "publicIpDelete", (rec) => {
    const nic = nicsWhere(ctx.store.state, (c) => refId(ipcProps(c).publicIPAddress)?.toLowerCase() === key(rec.id))[0];
    return nic ? new ArmError(400, "PublicIPAddressCannotBeDeleted", `Public IP address ${rec.id} can not be deleted since it is still allocated to resource ${nic.id}. In order to delete the public IP, disassociate/detach the Public IP address from the resource.`) : undefined;
  });

/** Public addresses come from 198.18.0.0/15 (reserved for benchmarking, never routed). */
function allocatePublicIp(state: State): string {
  const used = new Set(Object.values(state.publicIps).map((r) => str((r.body.properties as JsonObject).ipAddress)));
  for (let i = 1; i < 131070; i++) {
    const ip = `198.${18 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
    if ((i & 0xff) !== 0 && (i & 0xff) !== 255 && !used.has(ip)) return ip;
  }
  throw new ArmError(409, "PublicIPCountLimitReached", "No public IP addresses left in the emulator's pool.");
}

// ---------- NIC ----------

export const putNic = (ctx: Ctx, req: ArmRequest) =>
  put(ctx, req, "nics", "networkInterfaces", "nicPut", (id, raw, existing) => {
    const state = ctx.store.state;
    const p = obj(raw.properties) ?? {};
    const configs = arr(p.ipConfigurations);
    if (!configs || configs.length === 0) throw invalidParameter("properties.ipConfigurations", `Network interface ${id} must have one or more IP configurations.`);
    const nsgRef = refId(p.networkSecurityGroup);
    if (p.networkSecurityGroup !== undefined && p.networkSecurityGroup !== null && !nsgRef) throw invalidParameter("properties.networkSecurityGroup.id", "properties.networkSecurityGroup.id is required.");
    if (nsgRef && !state.nsgs[key(nsgRef)]) throw invalidReference(nsgRef, id);
    const oldIps = new Map(ipConfigs(existing ?? { id, body: { properties: { ipConfigurations: [] } }, requestHash: "" })
      .map((c) => [`${String(c.name)}|${refId(ipcProps(c).subnet)?.toLowerCase()}`, str(ipcProps(c).privateIPAddress)]));
    const taken = new Set<string>();
    const ipConfigurations = configs.map((rawc, i) => {
      const field = `properties.ipConfigurations[${i}]`;
      const c = obj(rawc);
      const name = str(c?.name);
      if (!c || !name) throw invalidParameter(`${field}.name`, `${field}.name is required.`);
      const cp = obj(c.properties) ?? {};
      const subnetId = refId(cp.subnet);
      if (!subnetId) throw invalidParameter(`${field}.properties.subnet.id`, `${field}.properties.subnet.id is required.`);
      const subnet = findSubnet(state, subnetId);
      if (!subnet) throw invalidReference(subnetId, id);
      const pipId = refId(cp.publicIPAddress);
      if (pipId && !state.publicIps[key(pipId)]) throw invalidReference(pipId, id);
      if (pipId) {
        const user = nicsWhere(state, (x) => refId(ipcProps(x).publicIPAddress)?.toLowerCase() === key(pipId))[0];
        if (user && key(user.id) !== key(id)) throw new ArmError(400, "PublicIPAddressInUse", `Resource ${pipId} is referenced by resource ${user.id}; it cannot be used by ${id}.`, `${field}.properties.publicIPAddress.id`);
      }
      const prefix = String((subnet.properties as JsonObject).addressPrefix);
      const method = str(cp.privateIPAllocationMethod) ?? "Dynamic";
      if (method !== "Dynamic" && method !== "Static") throw invalidParameter(`${field}.properties.privateIPAllocationMethod`, "privateIPAllocationMethod must be Dynamic or Static.");
      const used = usedIps(state, String(subnet.id), id, taken);
      let ip: string;
      if (method === "Static") {
        ip = str(cp.privateIPAddress) ?? "";
        if (!ipaddr.isValid(ip) || !ipaddr.parse(ip).match(ipaddr.parseCIDR(prefix))) {
          throw new ArmError(400, "PrivateIPAddressNotInSubnet", `IP configuration ${name} has private IP address ${ip} which does not belong to subnet ${subnetId} (${prefix}).`, `${field}.properties.privateIPAddress`);
        }
        if (used.has(ip)) throw new ArmError(400, "PrivateIPAddressInUse", `IP configuration ${name} is using the private IP address ${ip} which is already allocated to resource in subnet ${subnetId}.`, `${field}.properties.privateIPAddress`);
      } else {
        ip = oldIps.get(`${name}|${subnetId.toLowerCase()}`) ?? allocatePrivateIp(prefix, used, subnetId);
      }
      taken.add(ip);
      return {
        id: `${id}/ipConfigurations/${name}`, name, type: "Microsoft.Network/networkInterfaces/ipConfigurations",
        properties: {
          provisioningState: "Succeeded", privateIPAddress: ip, privateIPAllocationMethod: method,
          subnet: { id: String(subnet.id) }, ...(pipId ? { publicIPAddress: { id: pipId } } : {}),
          primary: i === 0, privateIPAddressVersion: "IPv4",
        },
      };
    });
    return {
      ipConfigurations,
      ...(nsgRef ? { networkSecurityGroup: { id: nsgRef } } : {}),
      dnsSettings: { dnsServers: [], appliedDnsServers: [] },
      enableAcceleratedNetworking: p.enableAcceleratedNetworking === true,
      enableIPForwarding: p.enableIPForwarding === true,
      nicType: "Standard",
      disableTcpStateTracking: false,
    };
  });
export const getNic = (ctx: Ctx, req: ArmRequest) => get(ctx, req, "nics", "networkInterfaces");
export const deleteNic = (ctx: Ctx, req: ArmRequest) =>
  del(ctx, req, "nics", "networkInterfaces", "nicDelete", (rec) => {
    const vm = vmUsingNic(ctx.store.state, rec.id);
    if (vm) return new ArmError(400, "NicInUse", `Network Interface ${rec.id} is used by existing resource ${vm}. In order to delete the network interface, it must be dissociated from the resource.`);
    return nicReserved(ctx, rec);
  });

/**
 * Azure keeps a NIC reserved for ~180 s for the VM that used it once that VM is deleted or its
 * create failed: deleting the NIC or giving it to another VM meanwhile is 400
 * NicReservedForAnotherVm (message quoted in Azure/karpenter-provider-azure#92,
 * cloudfoundry/bosh-azure-cpi-release#366).
 */
export function reserveNics(ctx: Ctx, vmId: string, nicIds: string[]): void {
  const seconds = ctx.config.nicReservationSeconds;
  if (seconds <= 0) return;
  for (const nicId of nicIds) {
    const nic = ctx.store.state.nics[key(nicId)];
    if (nic) nic.reservedFor = { vmId, until: Date.now() + seconds * 1000 };
  }
  ctx.store.save();
}

/** The refusal for a NIC still reserved for a VM other than `forVm`, if it is. */
export function nicReserved(ctx: Ctx, nic: NetRecord, forVm?: string): ArmError | undefined {
  const r = nic.reservedFor;
  if (!r || r.until <= Date.now() || (forVm && key(forVm) === key(r.vmId))) return undefined;
  const s = ctx.config.nicReservationSeconds;
  return new ArmError(400, "NicReservedForAnotherVm",
    `Nic(s) in request is reserved for another Virtual Machine for ${s} seconds. Please provide another nic(s) or retry after ${s} seconds. Reserved VM: ${r.vmId}`);
}

const invalidReference = (ref: string, by: string) =>
  new ArmError(400, "InvalidResourceReference", `Resource ${ref} referenced by resource ${by} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`);

function usedIps(state: State, subnetId: string, exceptNic: string, taken: Set<string>): Set<string> {
  const used = new Set(taken);
  for (const nic of Object.values(state.nics)) {
    if (key(nic.id) === key(exceptNic)) continue;
    for (const c of ipConfigs(nic)) {
      if (refId(ipcProps(c).subnet)?.toLowerCase() === subnetId.toLowerCase()) used.add(String(ipcProps(c).privateIPAddress));
    }
  }
  return used;
}

/** Azure reserves the first four addresses and the last one of every subnet. */
function allocatePrivateIp(prefix: string, used: Set<string>, subnetId: string): string {
  const [net, bits] = ipaddr.IPv4.parseCIDR(prefix);
  const base = net.toByteArray().reduce((a, b) => a * 256 + b, 0);
  const size = 2 ** (32 - bits);
  for (let i = 4; i < size - 1; i++) {
    const n = base + i;
    const ip = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
    if (!used.has(ip)) return ip;
  }
  throw new ArmError(400, "SubnetIsFull", `Subnet ${subnetId} with address prefix ${prefix} does not have enough capacity for 1 IP address.`);
}

// ---------- VNet / subnet (read-only) ----------

export function getVnet(ctx: Ctx, req: ArmRequest): ArmResult {
  const id = netId(req.m, "virtualNetworks", req.m.vnet);
  const rec = ctx.store.state.vnets[key(id)];
  if (!rec) throw notFound("Microsoft.Network/virtualNetworks", req.m.vnet, req.m.rg);
  const body = structuredClone(rec.body);
  const props = body.properties as JsonObject;
  props.subnets = (props.subnets as JsonObject[]).map((s) => subnetView(ctx.store.state, s));
  return { status: 200, body };
}

export function getSubnet(ctx: Ctx, req: ArmRequest): ArmResult {
  const id = `${netId(req.m, "virtualNetworks", req.m.vnet)}/subnets/${req.m.subnet}`;
  const vnet = ctx.store.state.vnets[key(netId(req.m, "virtualNetworks", req.m.vnet))];
  if (!vnet) throw notFound("Microsoft.Network/virtualNetworks", req.m.vnet, req.m.rg);
  const subnet = findSubnet(ctx.store.state, id);
  if (!subnet) throw new ArmError(404, "NotFound", `Resource ${id} not found.`);
  return { status: 200, body: subnetView(ctx.store.state, subnet) };
}

export function listSubnets(ctx: Ctx, req: ArmRequest): ArmResult {
  const vnet = getVnet(ctx, req).body as JsonObject;
  return { status: 200, body: { value: (vnet.properties as JsonObject).subnets as JsonObject[] } };
}

