// Which OS image instances get (the VM_IMAGE setting) and whether it brings NVIDIA drivers.
// One workspace-wide choice, made by whoever deploys the app:
// - `dsvm` (default): Microsoft's Data Science Virtual Machine for Ubuntu 22.04 — CUDA, cuDNN,
//   the NVIDIA driver, conda, PyTorch, Docker, the Azure CLI and JupyterLab preinstalled;
// - `ubuntu`: plain Ubuntu 22.04 LTS (Canonical), nothing for ML (GPU sizes get the driver
//   extension);
// - a marketplace URN `publisher:offer:sku:version`, as `az vm create --image` takes it;
// - a custom image: an Azure Compute Gallery image (latest version) or image version id, or a
//   managed image id.
// Images other than the DSVM are taken to lack GPU drivers unless VM_IMAGE_HAS_GPU_DRIVERS says
// they have them; on GPU sizes those get the NVIDIA GPU Driver Extension.

export type MarketplaceImage = { publisher: string; offer: string; sku: string; version: string };
export type CustomImage = { id: string };
export type VmImage = MarketplaceImage | CustomImage;

export type ImageChoice = { image: VmImage; hasGpuDrivers: boolean; label: string };

export const DSVM_IMAGE: MarketplaceImage = { publisher: "microsoft-dsvm", offer: "ubuntu-2204", sku: "2204-gen2", version: "latest" };
export const UBUNTU_IMAGE: MarketplaceImage = { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" };

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;
const VERSION = /^(latest|\d+\.\d+\.\d+)$/;
const GALLERY_IMAGE = /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.Compute\/galleries\/[A-Za-z0-9._]{1,80}\/images\/[A-Za-z0-9._-]{1,80}(\/versions\/(\d+\.\d+\.\d+|latest))?$/i;
const MANAGED_IMAGE = /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.Compute\/images\/[A-Za-z0-9][A-Za-z0-9._-]{0,78}[A-Za-z0-9_]?$/i;

/** Parses VM_IMAGE (and VM_IMAGE_HAS_GPU_DRIVERS); a string error names what is wrong. */
export function parseImageSetting(raw: string | undefined, hasDrivers: boolean | undefined): ImageChoice | string {
  const v = (raw ?? "").trim() || "dsvm";
  if (v.toLowerCase() === "dsvm") return { image: DSVM_IMAGE, hasGpuDrivers: hasDrivers ?? true, label: "Data Science VM (Ubuntu 22.04)" };
  if (v.toLowerCase() === "ubuntu") return { image: UBUNTU_IMAGE, hasGpuDrivers: hasDrivers ?? false, label: "Ubuntu 22.04 LTS" };
  if (v.startsWith("/")) {
    if (!GALLERY_IMAGE.test(v) && !MANAGED_IMAGE.test(v)) return "must be dsvm, ubuntu, publisher:offer:sku:version, or a gallery image (version) or managed image resource id";
    return { image: { id: v }, hasGpuDrivers: hasDrivers ?? false, label: `custom image ${v.split("/").slice(-3).join("/")}` };
  }
  const parts = v.split(":");
  if (parts.length !== 4 || !parts.slice(0, 3).every((p) => SEGMENT.test(p)) || !VERSION.test(parts[3]!)) {
    return "must be dsvm, ubuntu, publisher:offer:sku:version (version latest or x.y.z), or an image resource id";
  }
  const [publisher, offer, sku, version] = parts as [string, string, string, string];
  return { image: { publisher, offer, sku, version }, hasGpuDrivers: hasDrivers ?? false, label: `marketplace image ${v}` };
}

/** The NVIDIA GPU Driver Extension for Linux (installs the CUDA driver on N-series VMs). */
export const NVIDIA_DRIVER_EXTENSION = {
  name: "NvidiaGpuDriverLinux",
  publisher: "Microsoft.HpcCompute",
  type: "NvidiaGpuDriverLinux",
  typeHandlerVersion: "1.9",
} as const;

/** A GPU size on an image without drivers needs the extension. */
export function needsGpuDriverExtension(gpus: number, choice: Pick<ImageChoice, "hasGpuDrivers">): boolean {
  return gpus > 0 && !choice.hasGpuDrivers;
}
