// Who acts when no user does: the actor of automatic actions in the audit trail.
export const SYSTEM_ACTORS = {
  /** A start/stop schedule of the instance fired. */
  schedule: "system:schedule",
  /** Idle shutdown stopped an unused instance. */
  idle: "system:idle",
  /** The control plane's backstop recovered from a lost agent (job failed AgentLost). */
  recovery: "system:recovery",
} as const;
