import { createHash } from 'node:crypto';
import {
  canonicalJson,
  resolveQuantity,
  type CyclePlan,
  type CyclePlanHeader,
  type PlannedEndpoint,
  type PlanWave,
  type SkippedEndpoint,
} from '@patchbay/contracts';
import { EmptyTargetError } from './errors.js';
import { selectEmergencyUpdates, selectPolicyUpdates } from './packages.js';
import type { EndpointSnapshot, GroupSnapshot, PlanningSnapshot, PlanRequest } from './snapshot.js';

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Group placement of one endpoint: the most important tier wins, then the group id. */
interface Placement {
  groupId: string;
  tier: string;
  rank: number;
}

/**
 * Plans a cycle: target endpoints, what each installs, waves (canary first, then by tier order or
 * by the policy's wave sizes), concurrency, per-cluster disruption budget and error threshold.
 * Pure and deterministic: lists in the snapshot may come in any order.
 *
 * @throws EmptyTargetError when the target holds no endpoint at all.
 */
export function planCycle(request: PlanRequest, snapshot: PlanningSnapshot): CyclePlan {
  const policy = snapshot.policy.definition;
  const tierOrder = policy.rollout.tierOrder;
  const tierRank = (tier: string): number => {
    const i = tierOrder.indexOf(tier);
    return i < 0 ? tierOrder.length : i;
  };
  const endpoints = new Map<string, EndpointSnapshot>(snapshot.endpoints.map((e) => [e.endpointId, e]));
  const groups = [...snapshot.groups].sort((a, b) => cmp(a.id, b.id));
  const emergency = request.kind === 'emergency' ? request.emergency : undefined;

  // Which groups place endpoints: the policy's, or the emergency's own list.
  const targetGroupIds =
    emergency?.target.kind === 'groups' ? new Set(emergency.target.groups) : emergency?.target.kind === 'vulnerable' ? undefined : new Set(policy.groups);
  const placing = groups.filter((g) => !targetGroupIds || targetGroupIds.has(g.id));
  const placement = new Map<string, Placement>();
  const place = (g: GroupSnapshot, endpointId: string) => {
    const p: Placement = { groupId: g.id, tier: g.tier, rank: tierRank(g.tier) };
    const cur = placement.get(endpointId);
    if (!cur || p.rank < cur.rank || (p.rank === cur.rank && (cmp(p.tier, cur.tier) < 0 || (p.tier === cur.tier && cmp(p.groupId, cur.groupId) < 0)))) placement.set(endpointId, p);
  };
  for (const g of placing) for (const m of g.members) place(g, m);

  let targets: string[];
  if (emergency?.target.kind === 'vulnerable') {
    const fixing = new Set(emergency.packages);
    targets = [...endpoints.values()].filter((e) => !e.retired && e.facts?.updates.some((u) => fixing.has(u.name))).map((e) => e.endpointId);
    if (targets.length === 0) throw new EmptyTargetError(`no endpoint has a pending update of ${emergency.packages.join(', ')} (${emergency.advisoryId})`, { advisoryId: emergency.advisoryId });
  } else {
    targets = [...placement.keys()];
    if (targets.length === 0) throw new EmptyTargetError(`groups ${[...(targetGroupIds ?? [])].sort().join(', ')} have no members`, { groups: [...(targetGroupIds ?? [])].sort() });
  }
  targets.sort(cmp);

  const clusterLabel = policy.disruptionBudget?.clusterLabel;
  const planned: Array<PlannedEndpoint & { rank: number }> = [];
  const skipped: SkippedEndpoint[] = [];
  for (const id of targets) {
    const e = endpoints.get(id);
    const skip = (code: string, reason: string) => skipped.push({ endpointId: id, code, reason });
    if (!e) {
      skip('UNKNOWN_ENDPOINT', 'member of a group but not registered in the inventory');
      continue;
    }
    if (e.retired) {
      skip('RETIRED', 'endpoint is retired');
      continue;
    }
    if (!e.facts) {
      skip('NO_FACTS', 'no facts gathered yet: pending updates unknown');
      continue;
    }
    if (!e.facts.updatesKnown) {
      skip('UPDATES_UNKNOWN', 'the last fact gathering could not list pending updates');
      continue;
    }
    const packages = emergency ? selectEmergencyUpdates(emergency.packages, e.facts.updates) : selectPolicyUpdates(policy, e.facts.updates);
    if (packages.length === 0) {
      skip(emergency ? 'NOT_AFFECTED' : 'NOTHING_TO_INSTALL', emergency ? `no pending update of ${emergency.packages.join(', ')}` : 'no pending update matches the policy');
      continue;
    }
    const p = placement.get(id) ?? { groupId: '-', tier: 'unassigned', rank: tierOrder.length + 1 };
    const cluster = clusterLabel ? e.labels[clusterLabel] : undefined;
    planned.push({
      endpointId: id,
      groupId: p.groupId,
      tier: p.tier,
      ...(cluster !== undefined ? { cluster } : {}),
      ssh: e.ssh,
      packages,
      rebootRequired: e.facts.rebootRequired,
      rank: p.rank,
    });
  }
  planned.sort((a, b) => a.rank - b.rank || cmp(a.tier, b.tier) || cmp(a.groupId, b.groupId) || cmp(a.endpointId, b.endpointId));
  const ordered: PlannedEndpoint[] = planned.map(({ rank: _rank, ...rest }) => rest);
  const total = ordered.length;

  const waves: PlanWave[] = [];
  const addWave = (name: string, list: PlannedEndpoint[]) => {
    if (list.length > 0) waves.push({ index: waves.length, name, endpoints: list });
  };
  let rest = ordered;
  const canary = policy.rollout.canary !== undefined ? resolveQuantity(policy.rollout.canary, total) : 0;
  if (canary > 0 && canary < total) {
    addWave('canary', rest.slice(0, canary));
    rest = rest.slice(canary);
  }
  if (policy.rollout.waves.length > 0) {
    for (const q of policy.rollout.waves) {
      const n = resolveQuantity(q, total);
      if (n === 0 || rest.length === 0) continue;
      addWave(`wave-${waves.length}`, rest.slice(0, n));
      rest = rest.slice(n);
    }
    addWave(`wave-${waves.length}`, rest);
  } else {
    // Without explicit sizes, each tier is a wave of its own, in tier order.
    let i = 0;
    while (i < rest.length) {
      const tier = rest[i]!.tier;
      let j = i;
      while (j < rest.length && rest[j]!.tier === tier) j++;
      addWave(`tier:${tier}`, rest.slice(i, j));
      i = j;
    }
  }

  const concurrency = emergency?.ignoreConcurrency
    ? { limit: Math.max(1, total), from: 'override: unlimited' }
    : { limit: Math.max(1, resolveQuantity(policy.maxConcurrency, total)), from: policy.maxConcurrency };

  let disruptionBudget: CyclePlan['disruptionBudget'];
  if (policy.disruptionBudget && !emergency?.ignoreDisruptionBudget) {
    const key = policy.disruptionBudget.clusterLabel;
    const sizes = new Map<string, number>();
    for (const e of endpoints.values()) {
      const v = e.retired ? undefined : e.labels[key];
      if (v !== undefined) sizes.set(v, (sizes.get(v) ?? 0) + 1);
    }
    const limits: Record<string, number> = {};
    for (const c of [...new Set(ordered.map((e) => e.cluster).filter((c): c is string => c !== undefined))].sort(cmp)) {
      limits[c] = Math.max(1, resolveQuantity(policy.disruptionBudget.maxUnavailable, sizes.get(c) ?? 1));
    }
    disruptionBudget = { clusterLabel: key, maxUnavailable: policy.disruptionBudget.maxUnavailable, limits };
  }

  const template = snapshot.workflow.template;
  const steps = (['pre', 'patch', 'post'] as const).flatMap((phase) => template.phases[phase].map((step) => ({ phase, step })));
  return {
    formatVersion: 1,
    kind: request.kind,
    policy: { id: snapshot.policy.id, version: snapshot.policy.version },
    workflow: { workflowId: snapshot.workflow.id, version: snapshot.workflow.version, steps, compensations: template.compensations },
    rebootPolicy: policy.reboot,
    ...(emergency ? { emergency } : {}),
    concurrency,
    ...(disruptionBudget ? { disruptionBudget } : {}),
    errorThreshold: { limit: Math.max(1, resolveQuantity(policy.errorThreshold, Math.max(total, 1))), from: policy.errorThreshold },
    approval: policy.approval.mode === 'manual' ? { mode: 'manual', approvers: [...policy.approval.approvers].sort(cmp), minApprovals: policy.approval.minApprovals } : { mode: 'auto', afterDays: policy.approval.afterDays },
    waves,
    skipped,
  };
}

/** SHA-256 of the plan's canonical JSON: equal plans, equal hashes. */
export function planHash(plan: CyclePlan): string {
  return createHash('sha256').update(canonicalJson(plan)).digest('hex');
}

/** Number of endpoints the plan releases. */
export function plannedCount(plan: Pick<CyclePlan, 'waves'>): number {
  return plan.waves.reduce((n, w) => n + w.endpoints.length, 0);
}

/** The plan's header: everything but the endpoint lists. */
export function planHeader(plan: CyclePlan): CyclePlanHeader {
  const { waves, skipped, ...rest } = plan;
  return { ...rest, waves: waves.map((w) => ({ index: w.index, name: w.name, size: w.endpoints.length })), skippedCount: skipped.length };
}

/** A slice of a stored plan. */
export interface PlanPart {
  part: number;
  endpoints: Array<PlannedEndpoint & { wave: number }>;
  skipped: SkippedEndpoint[];
}

/**
 * Cuts the plan's endpoint lists into parts of at most `budgetBytes` of JSON each, so every stored
 * event fits in one bus message (NATS refuses payloads over 1 MiB by default). Always one part at least.
 */
export function splitPlan(plan: CyclePlan, budgetBytes = 256 * 1024): PlanPart[] {
  const parts: PlanPart[] = [];
  let cur: PlanPart = { part: 0, endpoints: [], skipped: [] };
  let size = 0;
  const room = (n: number) => {
    if (size + n > budgetBytes && (cur.endpoints.length > 0 || cur.skipped.length > 0)) {
      parts.push(cur);
      cur = { part: parts.length, endpoints: [], skipped: [] };
      size = 0;
    }
    size += n;
  };
  for (const w of plan.waves)
    for (const e of w.endpoints) {
      const entry = { ...e, wave: w.index };
      room(JSON.stringify(entry).length + 1);
      cur.endpoints.push(entry);
    }
  for (const s of plan.skipped) {
    room(JSON.stringify(s).length + 1);
    cur.skipped.push(s);
  }
  parts.push(cur);
  return parts;
}

/** Rebuilds the plan from its header and parts (inverse of `planHeader` + `splitPlan`). */
export function joinPlan(header: CyclePlanHeader, parts: readonly PlanPart[]): CyclePlan {
  const { waves: waveHeads, skippedCount: _skippedCount, ...rest } = header;
  const waves: PlanWave[] = waveHeads.map((w) => ({ index: w.index, name: w.name, endpoints: [] }));
  const skipped: SkippedEndpoint[] = [];
  for (const p of [...parts].sort((a, b) => a.part - b.part)) {
    for (const { wave, ...e } of p.endpoints) waves[wave]!.endpoints.push(e);
    skipped.push(...p.skipped);
  }
  return { ...rest, waves, skipped };
}

/** The plan as a person reads it: one line per wave and endpoint, then the skipped endpoints and the steps. */
export function printPlan(plan: CyclePlan, hash = planHash(plan)): string {
  const lines: string[] = [];
  const q = (from: string | number) => (typeof from === 'string' ? ` (${from})` : '');
  const kind = plan.emergency ? `emergency cycle for ${plan.emergency.advisoryId}` : `${plan.kind} cycle`;
  lines.push(`plan ${hash.slice(0, 12)}  ${kind} of policy ${plan.policy.id} v${plan.policy.version}, workflow ${plan.workflow.workflowId} v${plan.workflow.version}`);
  const budget = plan.disruptionBudget
    ? `disruption budget ${plan.disruptionBudget.clusterLabel}: ${Object.entries(plan.disruptionBudget.limits).map(([c, k]) => `${c}≤${k}`).join(' ') || 'none planned'}`
    : 'no disruption budget';
  const approval = plan.approval.mode === 'manual' ? `approval by ${plan.approval.minApprovals} of ${plan.approval.approvers.join(',')}` : `auto approval after ${plan.approval.afterDays} d`;
  lines.push(`  concurrency ${plan.concurrency.limit}${q(plan.concurrency.from)} · error threshold ${plan.errorThreshold.limit}${q(plan.errorThreshold.from)} · ${budget} · ${approval} · reboot ${plan.rebootPolicy}`);
  for (const w of plan.waves) {
    lines.push(`wave ${w.index} ${w.name} (${w.endpoints.length})`);
    for (const e of w.endpoints) {
      const pk = e.packages.map((p) => `${p.name} ${p.from ?? '?'}→${p.to}${p.security ? ' [sec]' : ''}`);
      const shown = pk.length > 3 ? `${pk.slice(0, 3).join(', ')}, +${pk.length - 3}` : pk.join(', ');
      lines.push(`  ${e.endpointId}  ${e.groupId}/${e.tier}${e.cluster ? ` cluster=${e.cluster}` : ''}${e.rebootRequired ? ' reboot-required' : ''}  ${shown}`);
    }
  }
  if (plan.skipped.length > 0) {
    lines.push(`skipped (${plan.skipped.length})`);
    for (const s of plan.skipped) lines.push(`  ${s.endpointId}  ${s.code}  ${s.reason}`);
  }
  lines.push(`steps  ${plan.workflow.steps.map((s) => `${s.phase}:${s.step.id}(${s.step.type})`).join(' → ')}`);
  return lines.join('\n');
}
