// The app's side of the job agent (agent/): its settings, the instance's own queue (name,
// resource id, messages), the role that lets the VM identity take messages from it and nothing
// else, and the rule that a report is accepted only from the VM of the instance owning the job.
import { createHash } from "node:crypto";
import type { QueueServiceClient } from "@azure/storage-queue";
import { translateAzureError } from "../azure/errors";
import { armNames, instanceKey } from "../ids";

export type AgentSettings = {
  /** Where agents report (the app's public URL). */
  appUrl: string;
  /** The token audience agents ask for (App Service Authentication's application ID URI). */
  appAudience: string;
  /** Queue service URL the agents use (their own identity; locally the emulator's Entra-authorized front). */
  queueEndpoint: string;
  /** Resource id of the storage account that holds the agent queues (the role assignments' scope). */
  queueAccountId: string;
  heartbeatSeconds: number;
  /**
   * The workspace's container registry (WORKSPACE_REGISTRY, its login server, and
   * WORKSPACE_REGISTRY_ID): each instance's identity gets AcrPull on it, and the agent pulls
   * images from it with that identity. Absent: VMs pull anonymously.
   */
  registry?: { loginServer: string; resourceId: string };
};

/** Reads the JOBS_AGENT_* settings; every problem names its setting. */
export function agentSettings(env: Readonly<Record<string, string | undefined>>, defaults: { queueEndpoint: string; accountName: string; subscriptionId: string; resourceGroup: string }): AgentSettings {
  const raw = (k: string) => env[k]?.trim() || undefined;
  const appUrl = raw("JOBS_AGENT_APP_URL") ?? (env.WEBSITE_HOSTNAME ? `https://${env.WEBSITE_HOSTNAME}` : undefined);
  if (!appUrl) throw new Error("setting JOBS_AGENT_APP_URL is required (the app's URL agents report to)");
  const appAudience = raw("JOBS_AGENT_APP_AUDIENCE");
  if (!appAudience) throw new Error("setting JOBS_AGENT_APP_AUDIENCE is required (the app's application ID URI)");
  const heartbeat = Number(raw("JOBS_AGENT_HEARTBEAT_SECONDS") ?? 30);
  if (!Number.isInteger(heartbeat) || heartbeat < 1 || heartbeat > 300) throw new Error("setting JOBS_AGENT_HEARTBEAT_SECONDS must be an integer in 1..300");
  const loginServer = raw("WORKSPACE_REGISTRY")?.toLowerCase();
  const registryId = raw("WORKSPACE_REGISTRY_ID");
  if ((loginServer === undefined) !== (registryId === undefined)) throw new Error("settings WORKSPACE_REGISTRY and WORKSPACE_REGISTRY_ID go together (the registry's login server and its resource id)");
  if (loginServer && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$/.test(loginServer)) throw new Error(`setting WORKSPACE_REGISTRY must be a registry host (host or host:port, e.g. myacr.azurecr.io), not '${loginServer}'`);
  if (registryId && !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ContainerRegistry\/registries\/[^/]+$/i.test(registryId)) {
    throw new Error("setting WORKSPACE_REGISTRY_ID must be a container registry's resource id (/subscriptions/…/providers/Microsoft.ContainerRegistry/registries/<name>)");
  }
  return {
    ...(loginServer && registryId ? { registry: { loginServer, resourceId: registryId } } : {}),
    appUrl: appUrl.replace(/\/+$/, ""),
    appAudience,
    queueEndpoint: (raw("JOBS_AGENT_QUEUE_ENDPOINT") ?? defaults.queueEndpoint).replace(/\/+$/, ""),
    queueAccountId:
      raw("JOBS_AGENT_QUEUE_ACCOUNT_ID") ??
      `/subscriptions/${defaults.subscriptionId}/resourceGroups/${defaults.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${defaults.accountName}`,
    heartbeatSeconds: heartbeat,
  };
}

/**
 * The instance's queue: 3–63 lowercase letters, digits and single hyphens (Azure's queue naming
 * rules), readable, and unique per instance (a short hash keeps names with "--" apart).
 */
export function agentQueueName(instance: string): string {
  const k = instanceKey(instance);
  const readable = k.replace(/[^a-z0-9-]/g, "").replace(/-+/g, "-").replace(/^-|-$/g, "");
  const hash = createHash("sha256").update(k).digest("hex").slice(0, 8);
  return `ci-jobs-${readable}-${hash}`;
}

export function agentQueueUrl(s: AgentSettings, instance: string): string {
  return `${s.queueEndpoint}/${agentQueueName(instance)}`;
}

export function agentQueueResourceId(s: AgentSettings, instance: string): string {
  return `${s.queueAccountId}/queueServices/default/queues/${agentQueueName(instance)}`;
}

/** AcrPull: pull images from the registry; nothing else. */
export const ACR_PULL_ROLE = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

/** Storage Queue Data Message Processor: peek, receive and delete messages; nothing else. */
export const QUEUE_MESSAGE_PROCESSOR_ROLE = "8a0f0c08-91a1-4084-bc3d-661d67233fed";

/** A GUID derived from the scope and principal, so a retried grant names the same assignment. */
export function roleAssignmentName(scope: string, principalId: string): string {
  const h = createHash("sha256").update(`${scope.toLowerCase()}|${principalId.toLowerCase()}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** `traceParent`: the W3C context the agent sends back on its reports, so the job is one trace. */
export type AgentMessage = { type: "run"; jobId: string; traceParent?: string } | { type: "cancel"; jobId: string; reason: string };

/** Queues created by this process (createIfNotExists once, not on every message). */
const ensured = new Map<string, Promise<void>>();

export async function ensureAgentQueue(queues: QueueServiceClient, instance: string): Promise<void> {
  const name = agentQueueName(instance);
  let p = ensured.get(name);
  if (!p) {
    p = queues
      .getQueueClient(name)
      .createIfNotExists()
      .then(
        () => undefined,
        (err: unknown) => {
          ensured.delete(name);
          throw translateAzureError(err, `create queue ${name}`);
        },
      );
    ensured.set(name, p);
  }
  await p;
}

export async function deleteAgentQueue(queues: QueueServiceClient, instance: string): Promise<void> {
  const name = agentQueueName(instance);
  ensured.delete(name);
  try {
    await queues.getQueueClient(name).deleteIfExists();
  } catch (err) {
    throw translateAzureError(err, `delete queue ${name}`);
  }
}

export async function sendToAgent(queues: QueueServiceClient, instance: string, msg: AgentMessage): Promise<void> {
  await ensureAgentQueue(queues, instance);
  try {
    await queues.getQueueClient(agentQueueName(instance)).sendMessage(JSON.stringify(msg));
  } catch (err) {
    throw translateAzureError(err, `send to queue ${agentQueueName(instance)}`);
  }
}

/** The VM resource id a report for a job of `instance` must come from (its system-assigned identity). */
export function instanceVmResourceId(subscriptionId: string, resourceGroup: string, instance: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachines/${armNames.vm(instance)}`;
}

/**
 * The managed identity's resource id (`xms_mirid`) from App Service Authentication's principal
 * header, or undefined when the caller is not a managed identity.
 */
export function callerResourceId(principalHeader: string | null | undefined): string | undefined {
  if (!principalHeader) return undefined;
  try {
    const p = JSON.parse(Buffer.from(principalHeader, "base64").toString("utf8")) as { claims?: { typ?: unknown; val?: unknown }[] };
    const c = (p.claims ?? []).find((x) => x.typ === "xms_mirid" && typeof x.val === "string");
    return c ? String(c.val) : undefined;
  } catch {
    return undefined;
  }
}
