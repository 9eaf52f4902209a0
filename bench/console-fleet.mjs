// The console's Fleet, Reference group and compliance queries on a 10,000-endpoint fleet: endpoints
// with labels and facts (a third with security updates, some needing a reboot) and 20 reference
// groups, appended to a real SQLite store as the inventory and policy services would, projected by a
// gateway started with startGateway (embedded read store, default limits). Measures, over HTTP with
// a token, the very operations the console sends (same fields, same page sizes):
//   A. Fleet, first page of 50, no filter
//   B. Fleet, 100 per page, labels env=prod + role=web and "has security updates"
//   C. Fleet, 50 per page, filtered by reference group, then by tier
//   D. Fleet, the last page reached by cursor: every page of 100 walked in turn (100 requests)
//   E. compliance of one tier: counts only (a row of the per-tier table) and with every gap
//   F. a reference group with its first 50 members and the reason of each
// Build first: npx tsc -b gateway
//   ./node_modules/.bin/node bench/console-fleet.mjs [--endpoints 10000] [--iterations 100]
import { performance } from 'node:perf_hooks';
import { gql, startTestStack } from '@patchbay/gateway/dist/spec-fixtures.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.indexOf(name) < 0 ? dflt : args[args.indexOf(name) + 1]);
const N = Number(opt('--endpoints', '10000'));
const ITER = Number(opt('--iterations', '100'));
const GROUPS = 20;
const TIERS = ['critical', 'high', 'medium', 'low'];

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const ev = (id, type, data) => ({ eventId: id, type, data, actor: 'bench', correlationId: 'bench-console' });
const name = (i) => `n-${String(i).padStart(5, '0')}`;
const labelsOf = (i) => ({ env: i % 3 === 0 ? 'dev' : 'prod', role: ['web', 'db', 'cache', 'app'][i % 4], dc: `dc${i % 5}`, cluster: `c${i % 50}` });
const groupSelector = (g) => `role=${['web', 'db', 'cache', 'app'][g % 4]},dc=dc${g % 5}`;

// Fields as in gateway/console/src/pages/fleet/FleetList.tsx (FleetEndpoints).
const FLEET = `query FleetEndpoints($filter: EndpointFilter, $first: Int, $after: String) {
  endpoints(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id retired labels { key value } hostKey { state }
      facts { gatheredAt os { id versionId prettyName } packageManager updatesKnown updateCount securityUpdateCount securityPackages { name to severity advisory } }
      hasSecurityUpdates rebootRequired groupIds lastCycle { cycleId state at } } }
    pageInfo { hasNextPage endCursor } } }`;
const COUNTS = `query ComplianceCounts($tier: String) { compliance(tier: $tier) { endpoints compliant unknown } }`;
const GAPS = `query ComplianceGaps($tier: String) { compliance(tier: $tier) { groupId tier endpoints compliant unknown gaps { endpointId groupIds missing { name to severity advisory } } } }`;
const GROUP = `query GroupDetail($id: ID!, $first: Int, $after: String) { referenceGroup(id: $id) { id name tier version deleted memberCount definition
  members(first: $first, after: $after) { edges { cursor node { endpointId reason since } } pageInfo { hasNextPage endCursor } } } }`;

const stack = await startTestStack();
try {
  const t0 = performance.now();
  const members = Array.from({ length: GROUPS }, () => []);
  let events = 0;
  for (let i = 0; i < N; i++) {
    const id = name(i);
    const labels = labelsOf(i);
    const security = i % 3 === 1;
    const updates = [
      ...(security ? [{ name: 'openssl', from: '3.0.13', to: '3.0.14', security: true, severity: ['critical', 'important', 'moderate'][i % 3], advisory: `DSA-${5000 + (i % 700)}-1` }] : []),
      { name: 'vim', from: '9.0.1', to: '9.0.2', security: false },
    ];
    const batch = [
      ev(`${id}-reg`, 'EndpointRegistered', { endpointId: id, labels, ssh: { host: `${id}.lab`, port: 22, user: 'patchbay', keyRef: 'env:PATCHBAY_KEY', sudo: true }, source: 'csv:bench.csv' }),
      ev(`${id}-facts`, 'FactsGathered', {
        endpointId: id,
        gatheredAt: '2026-11-25T09:00:00Z',
        facts: { os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)', idLike: [] }, packageManager: 'apt', updates, updatesKnown: true, rebootRequired: i % 7 === 0, disks: [], services: { source: 'systemd', names: [] }, problems: [] },
      }),
    ];
    await stack.store.append(`endpoint-${id}`, batch, 'any');
    events += batch.length;
    for (let g = 0; g < GROUPS; g++) if (labels.role === ['web', 'db', 'cache', 'app'][g % 4] && labels.dc === `dc${g % 5}`) members[g].push({ endpointId: id, reason: `selector ${groupSelector(g)} matched` });
  }
  for (let g = 0; g < GROUPS; g++) {
    const gid = `g-${String(g).padStart(2, '0')}`;
    const definition = { id: gid, tier: TIERS[g % 4], selector: groupSelector(g), members: [], exclusions: [] };
    const batch = [ev(`${gid}-def`, 'ReferenceGroupDefined', { groupId: gid, version: 1, definition })];
    for (let k = 0; k < members[g].length; k += 1000) batch.push(ev(`${gid}-mem-${k}`, 'GroupMembershipChanged', { groupId: gid, definitionVersion: 1, added: members[g].slice(k, k + 1000), removed: [], trigger: { kind: 'definition' } }));
    await stack.store.append(`group-${gid}`, batch, 'any');
    events += batch.length;
  }
  const appended = performance.now() - t0;

  const t1 = performance.now();
  const gw = await stack.startGateway({ rateLimitPerMinute: 0 });
  const q = async (query, variables) => {
    const r = await gql(gw.url, query, variables, stack.adminToken);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return r.data;
  };
  for (;;) {
    const d = await q(`query { endpoints(first: 1, filter: { group: "g-${String(GROUPS - 1).padStart(2, '0')}" }) { edges { cursor } } referenceGroup(id: "g-${String(GROUPS - 1).padStart(2, '0')}") { memberCount } }`).catch(() => undefined);
    const last = (await q(`query { endpoint(id: "${name(N - 1)}") { facts { gatheredAt } groupIds } }`).catch(() => undefined))?.endpoint;
    if (d?.referenceGroup?.memberCount === members[GROUPS - 1].length && last?.facts && last.groupIds.length > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const projected = performance.now() - t1;

  const measure = async (label, once, iterations = ITER) => {
    for (let i = 0; i < 5; i++) await once();
    const xs = [];
    for (let i = 0; i < iterations; i++) {
      const s = performance.now();
      await once();
      xs.push(performance.now() - s);
    }
    return { label, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) };
  };
  const expect = (ok, what) => {
    if (!ok) throw new Error(what);
  };
  const results = [];
  results.push(await measure('A: Fleet, first page of 50, no filter', async () => expect((await q(FLEET, { first: 50 })).endpoints.edges.length === 50, 'short page')));
  results.push(
    await measure('B: Fleet, 100 per page, labels env=prod+role=web, has security updates', async () => {
      const d = await q(FLEET, { first: 100, filter: { labels: [{ key: 'env', value: 'prod' }, { key: 'role', value: 'web' }], hasSecurityUpdates: true } });
      expect(d.endpoints.edges.every((e) => e.node.hasSecurityUpdates && e.node.labels.some((l) => l.key === 'role' && l.value === 'web')), 'filter not applied');
    }),
  );
  results.push(await measure('C1: Fleet, 50 per page, one reference group', async () => expect((await q(FLEET, { first: 50, filter: { group: 'g-03' } })).endpoints.edges.every((e) => e.node.groupIds.includes('g-03')), 'group filter')));
  results.push(await measure('C2: Fleet, 50 per page, one tier', async () => expect((await q(FLEET, { first: 50, filter: { tier: 'critical' } })).endpoints.edges.length > 0, 'tier filter')));
  let deepPages = 0;
  let lastCursor = null;
  results.push(
    await measure(
      `D: Fleet, all ${N} endpoints walked 100 per page (one figure = the whole walk)`,
      async () => {
        let after = null;
        deepPages = 0;
        for (;;) {
          const d = await q(FLEET, { first: 100, after });
          deepPages++;
          if (!d.endpoints.pageInfo.hasNextPage) break;
          lastCursor = after;
          after = d.endpoints.pageInfo.endCursor;
        }
      },
      5,
    ),
  );
  results.push(await measure('D2: Fleet, a page of 100 near the end, by its cursor', async () => expect((await q(FLEET, { first: 100, after: lastCursor })).endpoints.edges.length > 0, 'a page near the end')));
  results.push(await measure('E1: compliance of tier critical, counts only', async () => expect((await q(COUNTS, { tier: 'critical' })).compliance.endpoints > 0, 'compliance'), 30));
  let gaps = 0;
  results.push(
    await measure(
      'E2: compliance of tier critical with every gap',
      async () => {
        gaps = (await q(GAPS, { tier: 'critical' })).compliance.gaps.length;
      },
      30,
    ),
  );
  results.push(await measure('F: reference group with its first 50 members', async () => expect((await q(GROUP, { id: 'g-03', first: 50 })).referenceGroup.members.edges.length === 50, 'members')));

  console.log(`${N} endpoints, ${GROUPS} groups (${members.reduce((n, m) => n + m.length, 0)} memberships), ${events} events appended in ${(appended / 1000).toFixed(1)} s, projected by the gateway in ${(projected / 1000).toFixed(1)} s`);
  console.log(`walk D: ${deepPages} pages; E2: ${gaps} endpoints with missing security updates in tier critical`);
  console.log('| query | p50 | p99 | max |\n|---|---|---|---|');
  for (const r of results) console.log(`| ${r.label} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.max.toFixed(1)} ms |`);
} finally {
  await stack.close();
}
