// The trigger kinds this host serves, started in this order (HTTP first, so the base URL
// answers before timers and queues fire). Add one line per extension.
import type { HostExtensionFactory } from "./extensions";
import { httpExtension } from "./http/httpExtension";
import { queueExtension } from "./queue/queueExtension";
import { timerExtension } from "./timer/timerExtension";
import { createDurableExtension } from "./durable/extension";
import { blobExtension } from "./blob/blobExtension";
import { tableExtension } from "./table/tableExtension";

export const extensionFactories: HostExtensionFactory[] = [
  httpExtension,
  timerExtension,
  queueExtension,
  blobExtension,
  tableExtension,
  createDurableExtension,
];
