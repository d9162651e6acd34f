// The emulator checks a VM's image as ARM does (marketplace images it has, custom images that
// exist, required fields) and runs the NVIDIA GPU driver extension as Azure does (running VM
// only, known extensions only, failing on a size without a GPU), driven by the real SDK.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudEmulator } from "../../local/cloud/emulator";
import { computeClient, type EmulatorEndpoint } from "./clients";
import { createNic, RG, startTestCloud, SUB, vmBody } from "./support";

let emu: CloudEmulator;
let e: EmulatorEndpoint;
beforeAll(async () => ({ emu, endpoint: e } = await startTestCloud()));
afterAll(() => emu?.stop());

const GALLERY = `/subscriptions/${SUB}/resourceGroups/images/providers/Microsoft.Compute/galleries/team/images/ml-base`;

async function put(name: string, image: Record<string, string>, size = "Standard_D2s_v5") {
  const nicId = await createNic(e, name);
  const body = { ...vmBody(nicId, size), storageProfile: { imageReference: image } };
  return computeClient(e).virtualMachines.beginCreateOrUpdateAndWait(RG, name, body, { updateIntervalInMs: 20 });
}

describe("images", () => {
  it("accepts the Data Science VM and Ubuntu, refuses an image Azure does not have, and a missing field", async () => {
    await expect(put("img-dsvm", { publisher: "microsoft-dsvm", offer: "ubuntu-2204", sku: "2204-gen2", version: "latest" })).resolves.toMatchObject({ provisioningState: "Succeeded" });
    await expect(put("img-none", { publisher: "Canonical", offer: "UbuntuServer", sku: "14.04", version: "latest" })).rejects.toMatchObject({ statusCode: 404, code: "PlatformImageNotFound" });
    await expect(put("img-nosku", { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy" })).rejects.toMatchObject({ statusCode: 400, code: "InvalidParameter" });
  });

  it("a gallery image works once it exists (a version of it too), not before", async () => {
    await expect(put("img-gal1", { id: GALLERY })).rejects.toMatchObject({ statusCode: 404, code: "GalleryImageNotFound" });
    emu.setConfig({ customImages: [GALLERY] });
    await expect(put("img-gal2", { id: GALLERY })).resolves.toMatchObject({ provisioningState: "Succeeded" });
    await expect(put("img-gal3", { id: `${GALLERY}/versions/1.0.0` })).resolves.toMatchObject({ provisioningState: "Succeeded" });
  });
});

describe("NVIDIA GPU driver extension", () => {
  const ext = { location: "westeurope", publisher: "Microsoft.HpcCompute", typePropertiesType: "NvidiaGpuDriverLinux", typeHandlerVersion: "1.9", autoUpgradeMinorVersion: true };

  it("installs on a GPU size, fails on a CPU size, and an unknown extension is not found", async () => {
    await put("ext-gpu", { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" }, "Standard_NC4as_T4_v3");
    const c = computeClient(e);
    const ok = await c.virtualMachineExtensions.beginCreateOrUpdateAndWait(RG, "ext-gpu", "NvidiaGpuDriverLinux", ext, { updateIntervalInMs: 20 });
    expect(ok.provisioningState).toBe("Succeeded");
    expect((await c.virtualMachineExtensions.get(RG, "ext-gpu", "NvidiaGpuDriverLinux")).provisioningState).toBe("Succeeded");

    await put("ext-cpu", { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" });
    await c.virtualMachineExtensions.beginCreateOrUpdate(RG, "ext-cpu", "NvidiaGpuDriverLinux", ext);
    const failed = await (async () => {
      for (;;) {
        const x = await c.virtualMachineExtensions.get(RG, "ext-cpu", "NvidiaGpuDriverLinux", { expand: "instanceView" });
        if (x.provisioningState !== "Creating") return x;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    expect(failed.provisioningState).toBe("Failed");
    await expect(c.virtualMachineExtensions.beginCreateOrUpdate(RG, "ext-gpu", "Nope", { ...ext, publisher: "Contoso", typePropertiesType: "Nope" })).rejects.toMatchObject({ statusCode: 404, code: "ArtifactNotFound" });
  });

  it("a stopped VM takes no extension (409, as for run commands)", async () => {
    const c = computeClient(e);
    await c.virtualMachines.beginDeallocateAndWait(RG, "ext-gpu", { updateIntervalInMs: 20 });
    await expect(c.virtualMachineExtensions.beginCreateOrUpdate(RG, "ext-gpu", "NvidiaGpuDriverLinux", ext)).rejects.toMatchObject({ statusCode: 409, code: "OperationNotAllowed" });
  });
});
