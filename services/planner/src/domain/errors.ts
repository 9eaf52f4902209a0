import { PatchbayError } from '@patchbay/contracts';

/** The request names a policy the planner does not know (never defined, or deleted). */
export class UnknownPolicyError extends PatchbayError {
  constructor(policyId: string) {
    super('PLANNER_UNKNOWN_POLICY', `unknown patch policy "${policyId}"`, { policyId });
  }
}

/** The policy's workflow template version is not known. */
export class UnknownWorkflowError extends PatchbayError {
  constructor(workflowId: string, version: number) {
    super('PLANNER_UNKNOWN_WORKFLOW', `unknown workflow template "${workflowId}" version ${version}`, { workflowId, version });
  }
}

/** The target resolves to no endpoint at all (empty groups, nobody vulnerable). */
export class EmptyTargetError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('PLANNER_EMPTY_TARGET', message, details);
  }
}

/** Every targeted endpoint was skipped: there is nothing to install, so no cycle is stored. */
export class NothingToInstallError extends PatchbayError {
  constructor(skipped: number) {
    super('PLANNER_NOTHING_TO_INSTALL', `all ${skipped} targeted endpoints were skipped (see the preview for reasons)`, { skipped });
  }
}

/** The advisory id is neither a CVE id nor a known vendor advisory form. */
export class InvalidAdvisoryError extends PatchbayError {
  constructor(advisoryId: unknown, message: string) {
    super('PLANNER_INVALID_ADVISORY', message, { advisoryId });
  }
}

/** The cycle does not exist. */
export class CycleNotFoundError extends PatchbayError {
  constructor(cycleId: string) {
    super('CYCLE_NOT_FOUND', `cycle "${cycleId}" does not exist`, { cycleId });
  }
}

/** A cycle with this id exists already with a different request. */
export class CycleExistsError extends PatchbayError {
  constructor(cycleId: string) {
    super('CYCLE_ALREADY_EXISTS', `cycle "${cycleId}" already exists`, { cycleId });
  }
}

/** The command does not apply in the cycle's current status (approve a running cycle, resume a completed one …). */
export class InvalidCycleTransitionError extends PatchbayError {
  constructor(cycleId: string, command: string, status: string) {
    super('CYCLE_INVALID_TRANSITION', `cannot ${command} cycle "${cycleId}" while it is ${status}`, { cycleId, command, status });
  }
}

/** Four-eyes rule: whoever requested a cycle cannot approve it. */
export class ApproverIsRequesterError extends PatchbayError {
  constructor(cycleId: string, actor: string) {
    super('CYCLE_APPROVER_IS_REQUESTER', `"${actor}" requested cycle "${cycleId}" and cannot also approve it`, { cycleId, actor });
  }
}

/** The actor is not among the policy's approvers. */
export class NotAnApproverError extends PatchbayError {
  constructor(cycleId: string, actor: string) {
    super('CYCLE_NOT_AN_APPROVER', `"${actor}" is not an approver of cycle "${cycleId}"`, { cycleId, actor });
  }
}

/** The same approver approved twice. */
export class AlreadyApprovedError extends PatchbayError {
  constructor(cycleId: string, actor: string) {
    super('CYCLE_ALREADY_APPROVED_BY', `"${actor}" already approved cycle "${cycleId}"`, { cycleId, actor });
  }
}
