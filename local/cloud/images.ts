// The image of a VM PUT (`properties.storageProfile.imageReference`), checked as ARM checks it:
// required for a new VM made from an image; either an `id` (an Azure Compute Gallery image or
// image version, or a managed image) that must exist, or publisher + offer + sku (+ version) of
// a marketplace image that must exist. The emulator's marketplace is the images below (the ones
// the app offers: Ubuntu 22.04/24.04 and the Data Science VM); anything else is
// PlatformImageNotFound, as Azure answers an image it does not have. Custom images "exist" when
// listed in the runtime config (`customImages`, CLOUD_CUSTOM_IMAGES).
import type { Ctx } from "./context";
import { ArmError, obj, str, type JsonObject } from "./http";

/** publisher:offer:sku (lower case); every listed image is free (no purchase plan). */
const MARKETPLACE = new Set([
  "canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2",
  "canonical:0001-com-ubuntu-server-jammy:22_04-lts",
  "canonical:ubuntu-24_04-lts:server",
  "microsoft-dsvm:ubuntu-2204:2204-gen2",
  "microsoft-dsvm:ubuntu-2204:2204",
]);

const GALLERY = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/galleries\/[^/]+\/images\/[^/]+(\/versions\/[^/]+)?$/i;
const MANAGED = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/images\/[^/]+$/i;

export function checkImageReference(ctx: Ctx, props: JsonObject, creating: boolean): void {
  const storage = obj(props.storageProfile);
  const createOption = str(obj(storage?.osDisk)?.createOption) ?? "FromImage";
  if (createOption.toLowerCase() !== "fromimage") return;
  const ref = obj(storage?.imageReference);
  if (!ref) {
    if (!creating) return; // an update may leave the storage profile out
    throw new ArmError(400, "InvalidParameter", "Required parameter 'imageReference' is missing (null).", "imageReference");
  }
  const id = str(ref.id);
  if (id !== undefined) {
    const known = ctx.config.customImages.some((i) => i.toLowerCase() === id.toLowerCase() || (GALLERY.test(i) && id.toLowerCase().startsWith(`${i.toLowerCase()}/versions/`)));
    if (GALLERY.test(id)) {
      if (!known) throw new ArmError(404, "GalleryImageNotFound", `The gallery image ${id} is not available in ${ctx.opts.location} region. Please contact image owner to replicate to this region, or change your requested region.`, "imageReference");
      return;
    }
    if (MANAGED.test(id)) {
      if (!known) throw new ArmError(404, "NotFound", `The Resource '${id.split("/providers/")[1]}' under resource group '${id.split("/")[4]}' was not found.`, "imageReference.id");
      return;
    }
    throw new ArmError(400, "InvalidParameter", `The value of parameter imageReference.id is invalid.`, "imageReference.id");
  }
  for (const f of ["publisher", "offer", "sku"]) {
    if (!str(ref[f])) throw new ArmError(400, "InvalidParameter", `The value of parameter imageReference.${f} is invalid.`, `imageReference.${f}`);
  }
  const version = str(ref.version) ?? "latest";
  const urn = `${str(ref.publisher)}:${str(ref.offer)}:${str(ref.sku)}`;
  // Only "latest" is known here: a pinned version the emulator cannot vouch for is refused, never assumed.
  if (!MARKETPLACE.has(urn.toLowerCase()) || version.toLowerCase() !== "latest") {
    throw new ArmError(404, "PlatformImageNotFound", `The platform image '${urn}:${version}' is not available. Verify that all fields in the storage profile are correct. For more details about storage profile information, please refer to https://aka.ms/storageprofile`, "imageReference");
  }
}
