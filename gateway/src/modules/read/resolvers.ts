import { ValidationError } from '@patchbay/contracts';
import { findPage, type Filter, type Page, type ReadDocument, type ReadStore } from '@patchbay/read-store';
import type { GatewayServices } from '../../context.js';
import { C } from '../../read/projections.js';

type Doc = ReadDocument & Record<string, unknown>;
interface PageArgs {
  first?: number | null;
  after?: string | null;
}

const MAX_FIRST = 1000;
function pageSize(first: number | null | undefined, fallback: number): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > MAX_FIRST) throw new ValidationError(`first must be between 1 and ${MAX_FIRST}`, { first: n });
  return n;
}

/** One page of `collection` ordered by `_id` (ids are stable, so pages are too). */
async function page(rs: ReadStore, collection: string, filter: Filter, args: PageArgs, fallback = 50, map: (d: Doc) => unknown = (d) => d): Promise<Page<unknown>> {
  const p = await findPage(rs.collection<Doc>(collection), { filter, sort: { _id: 1 }, first: pageSize(args.first, fallback), after: args.after ?? null });
  return { pageInfo: p.pageInfo, edges: p.edges.map((e) => ({ cursor: e.cursor, node: map(e.node) })) };
}

/** Group ids in scope of a group and/or tier filter; `undefined` when neither was given. */
async function groupsInScope(rs: ReadStore, group?: string | null, tier?: string | null): Promise<string[] | undefined> {
  if (!group && !tier) return undefined;
  const filter: Filter = { deleted: false };
  if (group) filter['_id'] = group;
  if (tier) filter['tier'] = tier;
  const groups = await rs.collection<Doc>(C.groups).find(filter, { projection: { _id: 1 } });
  return groups.map((g) => String(g._id));
}

/** Definitions are stored as JSON text (see the projections); shown as JSON values. */
const parsed = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

const endpointNode = (d: Doc) => ({
  ...d,
  id: d['endpointId'] ?? d._id,
  labels: d['labels'] ?? [],
  retired: d['retired'] === true,
  hostKey: d['hostKey'] ?? { state: 'unknown' },
  groupIds: d['groupIds'] ?? [],
  hasSecurityUpdates: d['hasSecurityUpdates'] === true,
  rebootRequired: d['rebootRequired'] === true,
});
const groupNode = (d: Doc) => ({ ...d, id: d._id, memberCount: d['memberCount'] ?? 0, deleted: d['deleted'] === true, definition: parsed(d['definition']) });
const policyNode = (d: Doc) => ({ ...d, id: d._id, deleted: d['deleted'] === true, definition: parsed(d['definition']) });
const versionNode = (d: Doc | null) => (d ? { ...d, template: parsed(d['template']) } : null);
const workflowNode = (d: Doc) => ({ ...d, id: d._id, retired: d['retired'] === true });
const cycleNode = (d: Doc) => {
  const pause = d['pause'] as { reason?: string } | null | undefined;
  const abort = d['abort'] as { reason?: string } | null | undefined;
  return { ...d, id: d._id, waves: d['waves'] ?? [], approvals: d['approvals'] ?? [], pauseReason: pause?.reason ?? null, abortReason: abort?.reason ?? null, kind: d['kind'] ?? 'unknown', policyId: d['policyId'] ?? '', status: d['status'] ?? 'requested', requestedBy: d['requestedBy'] ?? '', requestedAt: d['requestedAt'] ?? d['updatedAt'] };
};

/** The query side: entity queries over the projected read models (cursor pagination, filters). */
export function readResolvers(s: GatewayServices) {
  const rs = s.readStore;
  return {
    Query: {
      endpoints: async (_: unknown, a: PageArgs & { filter?: { labels?: Array<{ key: string; value: string }>; group?: string; tier?: string; hasSecurityUpdates?: boolean; rebootRequired?: boolean; includeRetired?: boolean } | null }) => {
        const f = a.filter ?? {};
        const filter: Filter = { registered: true };
        if (!f.includeRetired) filter['retired'] = false;
        if (f.labels?.length) filter['labelPairs'] = { $all: f.labels.map((l) => `${l.key}=${l.value}`) };
        const groups = await groupsInScope(rs, f.group, f.tier);
        if (groups) filter['groupIds'] = { $in: groups };
        if (typeof f.hasSecurityUpdates === 'boolean') filter['hasSecurityUpdates'] = f.hasSecurityUpdates;
        if (typeof f.rebootRequired === 'boolean') filter['rebootRequired'] = f.rebootRequired;
        return page(rs, C.endpoints, filter, a, 50, endpointNode);
      },
      endpoint: async (_: unknown, a: { id: string }) => {
        const d = await rs.collection<Doc>(C.endpoints).findOne({ _id: a.id, registered: true });
        return d ? endpointNode(d) : null;
      },
      referenceGroups: (_: unknown, a: PageArgs & { tier?: string | null }) => page(rs, C.groups, { deleted: false, ...(a.tier ? { tier: a.tier } : {}) }, a, 50, groupNode),
      referenceGroup: async (_: unknown, a: { id: string }) => {
        const d = await rs.collection<Doc>(C.groups).findOne({ _id: a.id, version: { $exists: true } });
        return d ? groupNode(d) : null;
      },
      policies: (_: unknown, a: PageArgs) => page(rs, C.policies, { deleted: false }, a, 50, policyNode),
      policy: async (_: unknown, a: { id: string }) => {
        const d = await rs.collection<Doc>(C.policies).findOne({ _id: a.id });
        return d ? policyNode(d) : null;
      },
      workflowTemplates: (_: unknown, a: PageArgs) => page(rs, C.workflows, {}, a, 50, workflowNode),
      workflowTemplate: async (_: unknown, a: { id: string; version?: number | null }) => {
        const d = await rs.collection<Doc>(C.workflows).findOne({ _id: a.id });
        return d ? { ...workflowNode(d), requestedVersion: a.version ?? d['lastVersion'] } : null;
      },
      cycles: (_: unknown, a: PageArgs & { filter?: { status?: string[]; kind?: string[]; policyId?: string } | null }) => {
        const f = a.filter ?? {};
        const filter: Filter = { kind: { $exists: true } };
        if (f.status?.length) filter['status'] = { $in: f.status };
        if (f.kind?.length) filter['kind'] = { $in: f.kind };
        if (f.policyId) filter['policyId'] = f.policyId;
        return page(rs, C.cycles, filter, a, 50, cycleNode);
      },
      cycle: async (_: unknown, a: { id: string }) => {
        const d = await rs.collection<Doc>(C.cycles).findOne({ _id: a.id });
        return d ? cycleNode(d) : null;
      },
      endpointRuns: (_: unknown, a: PageArgs & { cycleId: string; filter?: { status?: string[]; wave?: number } | null }) => {
        const filter: Filter = { cycleId: a.cycleId };
        if (a.filter?.status?.length) filter['status'] = { $in: a.filter.status };
        if (typeof a.filter?.wave === 'number') filter['wave'] = a.filter.wave;
        return page(rs, C.runs, filter, a, 100);
      },
      pendingUpdates: async (_: unknown, a: PageArgs & { filter?: { endpointId?: string; group?: string; tier?: string; security?: boolean; name?: string } | null }) => {
        const f = a.filter ?? {};
        const filter: Filter = {};
        if (f.endpointId) filter['endpointId'] = f.endpointId;
        if (typeof f.security === 'boolean') filter['security'] = f.security;
        if (f.name) filter['name'] = f.name;
        const groups = await groupsInScope(rs, f.group, f.tier);
        if (groups) {
          const members = await rs.collection<Doc>(C.groupMembers).find({ groupId: { $in: groups } }, { projection: { endpointId: 1 } });
          const ids = [...new Set(members.map((m) => String(m['endpointId'])))];
          filter['endpointId'] = f.endpointId ? (ids.includes(f.endpointId) ? f.endpointId : { $in: [] }) : { $in: ids };
        }
        return page(rs, C.pendingUpdates, filter, a, 100);
      },
      compliance: async (_: unknown, a: { groupId?: string | null; tier?: string | null }) => {
        if (!a.groupId && !a.tier) throw new ValidationError('compliance needs groupId or tier', {});
        const groups = (await groupsInScope(rs, a.groupId, a.tier)) ?? [];
        const endpoints = await rs.collection<Doc>(C.endpoints).find({ registered: true, retired: false, groupIds: { $in: groups } }, { sort: { _id: 1 } });
        const gaps = [];
        let unknown = 0;
        for (const e of endpoints) {
          const facts = e['facts'] as { securityPackages?: unknown[] } | undefined;
          if (!facts) unknown += 1;
          else if ((facts.securityPackages?.length ?? 0) > 0) gaps.push({ endpointId: e._id, groupIds: ((e['groupIds'] ?? []) as string[]).filter((g) => groups.includes(g)), missing: facts.securityPackages });
        }
        return { groupId: a.groupId ?? null, tier: a.tier ?? null, endpoints: endpoints.length, compliant: endpoints.length - gaps.length - unknown, unknown, gaps };
      },
    },
    Mutation: {
      rebuildReadModels: async () => (await s.readModels.rebuild()).map((p) => ({ name: p.name, position: p.position?.toString() ?? null })),
    },
    Endpoint: {
      pendingUpdates: (e: { id: string }) => rs.collection<Doc>(C.pendingUpdates).find({ endpointId: e.id }, { sort: { _id: 1 } }),
    },
    ReferenceGroup: {
      members: (g: { id: string }, a: PageArgs) => page(rs, C.groupMembers, { groupId: g.id }, a, 100),
    },
    WorkflowTemplate: {
      versions: async (w: { id: string }) => (await rs.collection<Doc>(C.workflowVersions).find({ workflowId: w.id }, { sort: { _id: 1 } })).map(versionNode),
      template: async (w: { id: string; requestedVersion?: number; lastVersion: number }) => versionNode(await rs.collection<Doc>(C.workflowVersions).findOne({ workflowId: w.id, version: w.requestedVersion ?? w.lastVersion })),
    },
  };
}
