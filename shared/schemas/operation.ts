import { z } from "zod";
import { OPERATION_STATUSES } from "../instances/states";
import { errorDetail, isoDateTime } from "./common";

export const operationStatus = z.enum(OPERATION_STATUSES);

export const operationResponse = z.object({
  id: z.string(),
  name: z.string().meta({ example: "create" }),
  instance: z.string().optional(),
  status: operationStatus,
  startedAt: isoDateTime,
  endedAt: isoDateTime.optional(),
  steps: z
    .array(
      z.object({
        name: z.string(),
        status: operationStatus,
        startedAt: isoDateTime.optional(),
        endedAt: isoDateTime.optional(),
      }),
    )
    .optional(),
  error: z
    .object({ code: z.string(), message: z.string(), target: z.string().optional(), details: z.array(errorDetail).optional() })
    .optional(),
});
export type OperationResponse = z.infer<typeof operationResponse>;
