// Jobs in containers on the local stack: the real agent on the emulator's VMs runs jobs that
// name an image with the VM's `docker` (Podman underneath, local/cloud/containers.ts), pulling
// from the emulator's registry (local/cloud/registry.ts) the Debian image .ci/run prepares
// (local/cloud/job-image.sh). That registry is the workspace's (ACR's stand-in, behind its token
// service): the VMs pull with their managed identity, which the create gives AcrPull on it.
// Where Podman or that image is missing the container tests skip, saying why; the registry
// policy is checked either way.
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerRuntimeAvailable } from "../../local/cloud/containers";
import { defaultRegistryDir } from "../../local/cloud/registry";
import { armNames } from "../../shared/ids";
import { roleAssignmentName } from "../../shared/jobs/agent";
import { armRequest } from "../cloud/clients";
import { eventually, startStack, type Stack } from "../support/stack";
import { getJob, jobProcesses, runningInstance, submit, userDir, waitJob, type Job } from "./jobs.support";

const IMAGE_REPO = "ci/debian";
const imageBuilt = fs.existsSync(path.join(defaultRegistryDir(), IMAGE_REPO, "index.json"));
const isRoot = process.getuid?.() === 0;
const missing = !containerRuntimeAvailable() ? "Podman and runc are not installed" : !isRoot ? "not root (the emulator's Podman needs root)" : !imageBuilt ? `the job image is not built (bash local/cloud/job-image.sh → ${defaultRegistryDir()})` : undefined;
if (missing) console.warn(`jobs.container: container tests skipped: ${missing}`);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: {
      // The backstop calls an agent lost after 4 silent heartbeats. The kill -9 tests' restarted
      // agents need room on a loaded machine: 8 s (every 2 s) did not always suffice, and a
      // fresh-clone CI run once saw the pull test's job end Failed at 20 s (every 5 s); 40 s.
      JOBS_AGENT_HEARTBEAT_SECONDS: "10",
      // A four-GPU size for the GPU test (the example settings allow only one-GPU sizes and quota).
      ALLOWED_VM_SIZES: "Standard_D2s_v5,Standard_NC64as_T4_v3",
      QUOTA_VCPUS_PER_FAMILY: JSON.stringify({ standardDSv5Family: 64, standardNCASv3_T4Family: 64 }),
    },
  });
  await runningInstance(stack, "ct-a");
}, 180_000);
afterAll(() => stack?.stop());

const image = (tag = "bookworm") => `${stack.cloud.registry.host}/${IMAGE_REPO}:${tag}`;
const logs = async (id: string, stream: "stdout" | "stderr" = "stdout") => (await stack.api("GET", `/api/jobs/${id}/logs?stream=${stream}`, { as: "alice" })).text;
/** Agent processes of an instance's VM in this stack (its VM_ROOT is under this stack's data folder). */
function agentsOf(instance: string): { pid: number; vmRoot: string }[] {
  const out: { pid: number; vmRoot: string }[] = [];
  for (const e of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      if (/\) Z /.test(fs.readFileSync(`/proc/${e}/stat`, "utf8"))) continue;
      const env = fs.readFileSync(`/proc/${e}/environ`, "latin1").split("\0");
      const vmRoot = env.find((kv) => kv.startsWith("VM_ROOT="))?.slice("VM_ROOT=".length);
      if (env.includes(`CI_NAME=${instance}`) && env.some((kv) => kv.startsWith("CI_AGENT_QUEUE_URL=")) && vmRoot?.startsWith(stack.dataDir)) out.push({ pid: Number(e), vmRoot });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The VM's own docker command (its image store and containers), found through its agent's VM_ROOT. */
function vmDocker(instance: string, ...args: string[]): string {
  const agent = agentsOf(instance)[0];
  if (!agent) throw new Error(`no agent for ${instance}`);
  return execFileSync(path.join(agent.vmRoot, "usr/bin/docker"), args, { encoding: "utf8" });
}

describe("registry policy", () => {
  it("a job naming a registry the workspace does not allow is refused with a 400 naming environment.image, and nothing is recorded", async () => {
    for (const ref of ["ubuntu:22.04", "docker.io/library/python:3.12", "evil.example.com/ci/debian:bookworm"]) {
      const res = await stack.api<{ error: { code: string; target?: string; details: { code: string; target: string; message: string }[] } }>("POST", "/api/instances/ct-a/jobs", {
        as: "alice",
        body: { name: "refused", command: "true", environment: { image: ref } },
      });
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.details).toEqual([expect.objectContaining({ code: "RegistryNotAllowed", target: "environment.image" })]);
      expect(res.body.error.details[0]!.message).toContain(stack.cloud.registry.host);
    }
    const malformed = await stack.api<{ error: { details: { target: string }[] } }>("POST", "/api/instances/ct-a/jobs", { as: "alice", body: { command: "true", environment: { image: "Not An Image" } } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.details[0]!.target).toBe("environment.image");
    const list = await stack.api<{ value: Job[] }>("GET", "/api/instances/ct-a/jobs", { as: "alice" });
    expect(list.body.value.filter((j) => j.name === "refused")).toEqual([]);
  });
});

describe.skipIf(missing !== undefined)("jobs in containers", () => {
  it("sees the image's files (not the host's) and the user's folder at its working directory; output streams while it runs; pull progress is in the logs", async () => {
    fs.mkdirSync(userDir(stack), { recursive: true });
    fs.writeFileSync(path.join(userDir(stack), "input.txt"), "from the share\n");
    const hostOnly = path.resolve("package.json"); // this repository's, on the host only
    const job = await submit(stack, "ct-a", {
      name: "in-image",
      command: [
        "cat /etc/ci-job-image",
        `test -e ${hostOnly} && echo host-visible || echo host-hidden`,
        "pwd",
        "cat input.txt",
        "echo written-in-container > from-container.txt",
        'echo "vars $JOB_ID $CI_NAME $MY_VAR"',
        "for _ in $(seq 1 300); do [ -f in-image-go ] && break; sleep 0.1; done",
        "echo done",
      ].join("\n"),
      environment: { image: image(), variables: { MY_VAR: "mine" }, workingDirectory: "/work" },
    });
    await waitJob(stack, job.id, ["Running"]);
    // Streams: the first lines are in the job's logs while it still runs.
    const early = await eventually(() => logs(job.id), (t) => t.includes("vars "), 30_000, 200);
    expect(early).not.toContain("done");
    expect((await getJob(stack, job.id)).state).toBe("Running");
    fs.writeFileSync(path.join(userDir(stack), "in-image-go"), "");
    expect((await waitJob(stack, job.id)).state).toBe("Completed");
    expect(await logs(job.id)).toBe(`ci/debian:bookworm (debootstrap --variant=minbase)\nhost-hidden\n/work\nfrom the share\nvars ${job.id} ct-a mine\ndone\n`);
    expect(fs.readFileSync(path.join(userDir(stack), "from-container.txt"), "utf8")).toBe("written-in-container\n");
    // The pull was part of its start, with the runtime's progress in the job's logs.
    const stderr = await logs(job.id, "stderr");
    expect(stderr).toContain(`Pulling image ${image()}`);
    expect(stderr).toMatch(/Copying blob/);
    expect(stack.cloud.registry.pulls(IMAGE_REPO)).toBe(1);
    // Through ACR's token service, with the VM's identity; its login went with the pull.
    expect(stack.cloud.registry.secrets().length).toBeGreaterThanOrEqual(3);
    expect(fs.readdirSync(path.join(agentsOf("ct-a")[0]!.vmRoot, "run/ci-agent/docker"))).toEqual([]);
    // Removed afterwards.
    expect(vmDocker("ct-a", "ps", "--all", "--quiet", "--filter", `name=ci-job-${job.id}`).trim()).toBe("");
  }, 120_000);

  it("the second job on the same image starts without a pull (the VM caches it)", async () => {
    const before = stack.cloud.registry.pulls(IMAGE_REPO);
    expect(before).toBeGreaterThan(0); // the test above pulled it on this VM
    const job = await submit(stack, "ct-a", { name: "cached", command: "echo cached", environment: { image: image() } });
    expect((await waitJob(stack, job.id)).state).toBe("Completed");
    expect(await logs(job.id)).toBe("cached\n");
    expect(await logs(job.id, "stderr")).not.toContain("Pulling image");
    expect(stack.cloud.registry.pulls(IMAGE_REPO)).toBe(before);
  }, 60_000);

  it("cancel stops the container and removes it", async () => {
    const job = await submit(stack, "ct-a", { name: "cancel-me", command: "echo started; sleep 300", environment: { image: image() } });
    await waitJob(stack, job.id, ["Running"]);
    await eventually(() => logs(job.id), (t) => t.includes("started"), 30_000, 200);
    expect(jobProcesses(job.id).length).toBeGreaterThan(0); // the container's processes carry JOB_ID
    expect(vmDocker("ct-a", "ps", "--quiet", "--filter", `name=ci-job-${job.id}`).trim()).not.toBe("");
    expect((await stack.api("POST", `/api/jobs/${job.id}/cancel`, { as: "alice" })).status).toBe(202);
    expect((await waitJob(stack, job.id)).state).toBe("Canceled");
    expect(vmDocker("ct-a", "ps", "--all", "--quiet", "--filter", `name=ci-job-${job.id}`).trim()).toBe("");
    expect(jobProcesses(job.id)).toEqual([]);
  }, 60_000);

  it("kill -9 of the agent while the image is pulled: the restarted agent adopts the pull and the job runs once", async () => {
    await runningInstance(stack, "ct-b"); // a new VM: it has no image yet
    const release = stack.cloud.registry.holdBlobs();
    let job: Job;
    try {
      job = await submit(stack, "ct-b", { name: "pull-survivor", command: "mkdir -p k9; echo $JOB_ID >> k9/$JOB_ID; echo ran", environment: { image: image() } });
      await eventually(() => logs(job.id, "stderr"), (t) => t.includes("Pulling image"), 30_000, 200);
      const [before] = agentsOf("ct-b");
      process.kill(before!.pid, "SIGKILL");
      await eventually(async () => agentsOf("ct-b"), (a) => a.length === 1 && a[0]!.pid !== before!.pid, 30_000, 100);
      expect((await getJob(stack, job.id)).state).toBe("Starting");
    } finally {
      release();
    }
    const ended = await waitJob(stack, job.id);
    expect(ended.state, JSON.stringify(ended.error)).toBe("Completed");
    expect(await logs(job.id)).toBe("ran\n");
    expect(fs.readFileSync(path.join(userDir(stack), "k9", job.id), "utf8")).toBe(`${job.id}\n`);
  }, 150_000);

  it("a failing pull ends the job Failed with the registry's message", async () => {
    const job = await submit(stack, "ct-a", { name: "no-such-tag", command: "echo never", environment: { image: image("no-such-tag") } });
    const ended = await waitJob(stack, job.id);
    expect(ended.state).toBe("Failed");
    expect(ended.startedAt).toBeUndefined(); // it never ran
    expect(ended.error?.message).toContain("the image could not be pulled");
    expect(ended.error?.message).toContain('manifest tagged by "no-such-tag" is not found');
    expect(await logs(job.id)).toBe("");
  }, 60_000);

  it("a GPU job gets exactly its GPUs (--gpus with the queue's indices, CUDA_VISIBLE_DEVICES counted inside the container); it is Starting while its image is pulled", async () => {
    await runningInstance(stack, "ct-gpu", "Standard_NC64as_T4_v3");
    const holder = await submit(stack, "ct-gpu", { name: "holder", gpus: 1, command: "for _ in $(seq 1 300); do [ -f gpu-go ] && break; sleep 0.1; done" });
    await waitJob(stack, holder.id, ["Running"]);
    // A new VM pulls the image: the job is Starting while the layers come, with the pull in its logs.
    const release = stack.cloud.registry.holdBlobs();
    let job: Job;
    try {
      job = await submit(stack, "ct-gpu", { name: "two-gpus", gpus: 2, command: 'echo "nvidia=$NVIDIA_VISIBLE_DEVICES cuda=$CUDA_VISIBLE_DEVICES"', environment: { image: image() } });
      await eventually(() => logs(job.id, "stderr"), (t) => t.includes(`Pulling image ${image()}`), 30_000, 200);
      expect((await getJob(stack, job.id)).state).toBe("Starting");
    } finally {
      release();
    }
    const ended = await waitJob(stack, job.id, ["Completed", "Failed", "Canceled", "TimedOut"], 90_000);
    expect(ended.state).toBe("Completed");
    expect(ended.gpuIndices).toEqual([1, 2]);
    expect(await logs(job.id)).toBe("nvidia=1,2 cuda=0,1\n");
    fs.writeFileSync(path.join(userDir(stack), "gpu-go"), "");
    expect((await waitJob(stack, holder.id)).state).toBe("Completed");
  }, 150_000);
  it("without AcrPull on the workspace registry a job ends Failed with the registry's unauthorized message", async () => {
    const vm = await armRequest(stack.cloud, "GET", `/subscriptions/${stack.cloud.subscriptionId}/resourceGroups/${stack.cloud.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${armNames.vm("ct-a")}?api-version=2024-07-01`);
    const principalId = vm.json<{ identity: { principalId: string } }>().identity.principalId;
    const registryId = stack.cloud.registry.resourceId;
    const assignment = `${registryId}/providers/Microsoft.Authorization/roleAssignments/${roleAssignmentName(registryId, principalId)}?api-version=2022-04-01`;
    const granted = await armRequest(stack.cloud, "GET", assignment);
    expect(granted.status, granted.body).toBe(200); // the create gave the VM's identity AcrPull
    expect((await armRequest(stack.cloud, "DELETE", assignment)).status).toBe(200);
    // So the job must pull. Not execFileSync: a blocked event loop misses the host closing idle
    // keep-alive sockets, and the next request would go out on a dead one.
    await promisify(execFile)(path.join(agentsOf("ct-a")[0]!.vmRoot, "usr/bin/docker"), ["rmi", image()]);
    try {
      const job = await submit(stack, "ct-a", { name: "no-acrpull", command: "echo never", environment: { image: image() } });
      const ended = await waitJob(stack, job.id);
      expect(ended.state).toBe("Failed");
      expect(ended.startedAt).toBeUndefined();
      expect(ended.error?.message).toContain("the image could not be pulled");
      expect(ended.error?.message).toContain("unauthorized: authentication required, visit https://aka.ms/acr/authorization for more information.");
      expect(await logs(job.id, "stderr")).toContain("authentication required");
      expect(await logs(job.id)).toBe("");
    } finally {
      const { properties } = granted.json<{ properties: { roleDefinitionId: string; principalId: string } }>();
      const back = await armRequest(stack.cloud, "PUT", assignment, { properties: { roleDefinitionId: properties.roleDefinitionId, principalId: properties.principalId, principalType: "ServicePrincipal" } });
      expect(back.status, back.body).toBe(201);
    }
    // With the role back, the same VM pulls again.
    const again = await submit(stack, "ct-a", { name: "acrpull-back", command: "echo back", environment: { image: image() } });
    expect((await waitJob(stack, again.id)).state).toBe("Completed");
  }, 90_000);

  it("kill -9 of the agent while it logs in to the registry: the restarted agent logs in again and the job runs once", async () => {
    const vmRoot = agentsOf("ct-b")[0]!.vmRoot;
    // ct-b must pull again (it has the image unless the test before failed early).
    await promisify(execFile)(path.join(vmRoot, "usr/bin/docker"), ["rmi", image()]).catch((err: Error) => {
      if (!/image not known/.test(err.message)) throw err;
    });
    const release = stack.cloud.registry.holdExchanges();
    let job: Job;
    try {
      job = await submit(stack, "ct-b", { name: "login-survivor", command: "echo logged-in", environment: { image: image() } });
      // The runner asked for the login; the agent's exchange is held at the registry.
      await eventually(async () => fs.existsSync(path.join(vmRoot, "var/lib/ci-agent/jobs", job.id, "login-wanted")), (x) => x, 30_000, 100);
      const [before] = agentsOf("ct-b");
      process.kill(before!.pid, "SIGKILL");
      await eventually(async () => agentsOf("ct-b"), (a) => a.length === 1 && a[0]!.pid !== before!.pid, 30_000, 100);
      expect((await getJob(stack, job.id)).state).toBe("Starting");
    } finally {
      release();
    }
    const ended = await waitJob(stack, job.id);
    expect(ended.state, ended.error?.message).toBe("Completed");
    expect(await logs(job.id)).toBe("logged-in\n");
    expect(fs.readdirSync(path.join(vmRoot, "run/ci-agent/docker"))).toEqual([]);
  }, 120_000);

  it("no registry credential (Entra ID token, ACR refresh or access token) is in a job's logs, the host's output, the agents' logs or journals, or left on a VM", async () => {
    const secrets = stack.cloud.registry.secrets();
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    const texts: { where: string; text: string }[] = [{ where: "host output", text: stack.host.output() }];
    for (const instance of ["ct-a", "ct-b", "ct-gpu"]) {
      const list = await stack.api<{ value: Job[] }>("GET", `/api/instances/${instance}/jobs`, { as: "alice" });
      for (const j of list.body.value) texts.push({ where: `job ${j.id} stdout`, text: await logs(j.id) }, { where: `job ${j.id} stderr`, text: await logs(j.id, "stderr") });
      const vmRoot = agentsOf(instance)[0]!.vmRoot;
      for (const dir of ["var/log", "var/lib/ci-agent", "run/ci-agent", "root"]) {
        for (const file of walk(path.join(vmRoot, dir))) texts.push({ where: file, text: fs.readFileSync(file, "latin1") });
      }
      expect(fs.readdirSync(path.join(vmRoot, "run/ci-agent/docker"))).toEqual([]);
    }
    expect(texts.length).toBeGreaterThan(10);
    for (const { where, text } of texts) {
      // A whole token, or its signature (the part that makes it usable).
      const leaked = secrets.filter((t) => t && (text.includes(t) || text.includes(t.slice(t.lastIndexOf(".") + 1))));
      expect(leaked.length, `a registry credential in ${where}`).toBe(0);
    }
  }, 60_000);
});

/** Every file below `dir` (none if it is missing). */
function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
}
