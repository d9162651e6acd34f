import { describe, expect, it } from "vitest";
import { DSVM_IMAGE, needsGpuDriverExtension, parseImageSetting, UBUNTU_IMAGE } from "../../shared/images";
import { settingsWith } from "./settingsFixture";

const SUB = "00000000-0000-0000-0000-0000000000aa";

describe("VM_IMAGE", () => {
  it.each<[string | undefined, boolean | undefined, object, boolean]>([
    [undefined, undefined, DSVM_IMAGE, true],
    ["dsvm", undefined, DSVM_IMAGE, true],
    ["ubuntu", undefined, UBUNTU_IMAGE, false],
    ["ubuntu", true, UBUNTU_IMAGE, true],
    ["Canonical:ubuntu-24_04-lts:server:latest", undefined, { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server", version: "latest" }, false],
    [`/subscriptions/${SUB}/resourceGroups/img/providers/Microsoft.Compute/galleries/team/images/ml-base`, undefined, { id: `/subscriptions/${SUB}/resourceGroups/img/providers/Microsoft.Compute/galleries/team/images/ml-base` }, false],
    [`/subscriptions/${SUB}/resourceGroups/img/providers/Microsoft.Compute/galleries/team/images/ml-base/versions/1.2.3`, true, { id: `/subscriptions/${SUB}/resourceGroups/img/providers/Microsoft.Compute/galleries/team/images/ml-base/versions/1.2.3` }, true],
    [`/subscriptions/${SUB}/resourceGroups/img/providers/Microsoft.Compute/images/golden`, undefined, { id: `/subscriptions/${SUB}/resourceGroups/img/providers/Microsoft.Compute/images/golden` }, false],
  ])("%s", (raw, drivers, image, hasGpuDrivers) => {
    expect(parseImageSetting(raw, drivers)).toMatchObject({ image, hasGpuDrivers });
  });

  it.each(["Canonical:jammy", "a:b:c:1.2", "/subscriptions/x/providers/Microsoft.Storage/storageAccounts/a", "bad urn:b:c:latest"])("refuses %s", (raw) => {
    expect(typeof parseImageSetting(raw, undefined)).toBe("string");
  });

  it("is an app setting: a bad value names VM_IMAGE", () => {
    expect(() => settingsWith({ VM_IMAGE: "nope" })).toThrow(/VM_IMAGE/);
    expect(settingsWith({ VM_IMAGE: "ubuntu" }).vmImage.image).toEqual(UBUNTU_IMAGE);
    expect(settingsWith({}).vmImage.image).toEqual(DSVM_IMAGE);
  });

  it("GPU sizes get the driver extension only when the image lacks drivers", () => {
    expect(needsGpuDriverExtension(1, { hasGpuDrivers: false })).toBe(true);
    expect(needsGpuDriverExtension(1, { hasGpuDrivers: true })).toBe(false);
    expect(needsGpuDriverExtension(0, { hasGpuDrivers: false })).toBe(false);
  });
});
