import { describe, expect, it } from "vitest";
import { checkJobImage, parseImageRef } from "../../shared/policies/registries";
import { settingsWith } from "./settingsFixture";

describe("image references", () => {
  it.each<[string, ReturnType<typeof parseImageRef>]>([
    ["ubuntu", { registry: "docker.io", repository: "ubuntu" }],
    ["ubuntu:22.04", { registry: "docker.io", repository: "ubuntu", tag: "22.04" }],
    ["pytorch/pytorch:2.3.0-cuda12.1", { registry: "docker.io", repository: "pytorch/pytorch", tag: "2.3.0-cuda12.1" }],
    ["myacr.azurecr.io/train/env:v1", { registry: "myacr.azurecr.io", repository: "train/env", tag: "v1" }],
    ["MyAcr.AzureCR.io/train", { registry: "myacr.azurecr.io", repository: "train" }],
    ["localhost/x", { registry: "localhost", repository: "x" }],
    ["buildhost:5000/team/img", { registry: "buildhost:5000", repository: "team/img" }],
    ["127.0.0.1:10443/ci/debian:bookworm", { registry: "127.0.0.1:10443", repository: "ci/debian", tag: "bookworm" }],
    [`mcr.microsoft.com/azureml/base@sha256:${"a".repeat(64)}`, { registry: "mcr.microsoft.com", repository: "azureml/base", digest: `sha256:${"a".repeat(64)}` }],
  ])("%s", (ref, expected) => {
    expect(parseImageRef(ref)).toEqual(expected);
  });

  it.each(["", "Ubuntu", "a b", "x:", "x@sha256:abc", "-x", "x//y", "host:99999999/x", "x:tag:tag"])("refuses %j", (ref) => {
    expect(parseImageRef(ref)).toBeUndefined();
  });
});

describe("registry policy", () => {
  const policy = settingsWith({ ALLOWED_JOB_REGISTRIES: "MyAcr.azurecr.io, mcr.microsoft.com" });

  it("allows listed registries (host names case-insensitively) and names environment.image otherwise", () => {
    expect(policy.allowedJobRegistries).toEqual(["myacr.azurecr.io", "mcr.microsoft.com"]);
    expect(checkJobImage("myacr.azurecr.io/train:v1", policy)).toEqual([]);
    expect(checkJobImage("MYACR.azurecr.io/train:v1", policy)).toEqual([]);
    expect(checkJobImage("mcr.microsoft.com/azureml/base", policy)).toEqual([]);
    for (const ref of ["ubuntu", "docker.io/library/ubuntu", "other.azurecr.io/train", "myacr.azurecr.io:443/train", "myacr.azurecr.io.evil.example/train"]) {
      expect(checkJobImage(ref, policy)).toEqual([expect.objectContaining({ code: "RegistryNotAllowed", target: "environment.image" })]);
    }
    expect(checkJobImage("Not An Image", policy)).toEqual([
      { code: "InvalidValue", target: "environment.image", message: "is not an image reference ([registry/]repository[:tag][@sha256:digest], lower-case repository)" },
    ]);
    expect(checkJobImage("other.azurecr.io/train", policy)).toEqual([
      {
        code: "RegistryNotAllowed",
        target: "environment.image",
        message: "registry 'other.azurecr.io' is not allowed by the workspace policy; allowed registries: myacr.azurecr.io, mcr.microsoft.com",
      },
    ]);
  });

  it("allows no image when the workspace lists no registry", () => {
    const none = settingsWith({ ALLOWED_JOB_REGISTRIES: undefined });
    expect(none.allowedJobRegistries).toEqual([]);
    expect(checkJobImage("myacr.azurecr.io/train", none)).toEqual([
      {
        code: "RegistryNotAllowed",
        target: "environment.image",
        message: "registry 'myacr.azurecr.io' is not allowed by the workspace policy; the workspace allows no registries (ALLOWED_JOB_REGISTRIES)",
      },
    ]);
  });
});
