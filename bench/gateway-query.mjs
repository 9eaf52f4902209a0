// Gateway queries over the read models: one cycle with 1,000 endpoint runs (three steps each, a
// reboot, every tenth run failed), events appended to a real SQLite store as the planner and the
// executor would, relayed to a real nats-server, projected by a gateway started with startGateway
// (embedded read store, default limits). Measures, over HTTP with a token:
//   A. the cycle (status, waves, counts, approvals) + the first 50 runs with steps and output tails
//   B. the failed runs of the cycle (status filter), 100 per page
//   C. every run of the cycle, paged 100 at a time (10 requests)
// Build first: npx tsc -b gateway
//   ./node_modules/.bin/node bench/gateway-query.mjs [--runs 1000] [--iterations 300]
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';
import { gql, startTestStack } from '@patchbay/gateway/dist/spec-fixtures.js';
import { cycleBatches } from '@patchbay/gateway/dist/read/read-fixtures.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.indexOf(name) < 0 ? dflt : args[args.indexOf(name) + 1]);
const RUNS = Number(opt('--runs', '1000'));
const ITER = Number(opt('--iterations', '300'));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const fmt = (ms) => `${ms.toFixed(2)} ms`;

const A = `query($id: ID!) {
  cycle(id: $id) { id kind status planHash requestedBy waves { index name size state succeeded failed } counts { planned released succeeded failed cancelled } approvals { by comment at } }
  endpointRuns(cycleId: $id, first: 50) { edges { cursor node { endpointId wave status currentStep code steps { stepKey status startedAt finishedAt durationMs exitCode stdoutTail } reboots { bootIdBefore bootIdAfter } } } pageInfo { hasNextPage endCursor } }
}`;
const B = `query($id: ID!) { endpointRuns(cycleId: $id, filter: { status: ["failed"] }, first: 100) { edges { node { endpointId code } } pageInfo { hasNextPage } } }`;
const C = `query($id: ID!, $after: String) { endpointRuns(cycleId: $id, first: 100, after: $after) { edges { node { endpointId status } } pageInfo { hasNextPage endCursor } } }`;

const stack = await startTestStack();
try {
  const t0 = performance.now();
  let events = 0;
  for (const [stream, batch] of cycleBatches('bench', RUNS)) {
    await stack.store.append(stream, batch, 'any');
    events += batch.length;
  }
  const appended = performance.now() - t0;
  const t1 = performance.now();
  const gw = await stack.startGateway({ rateLimitPerMinute: 0 });
  for (;;) {
    const r = await gql(gw.url, '{ cycle(id: "bench") { status counts { succeeded failed } } }', undefined, stack.adminToken);
    const c = r.data?.cycle;
    if (c && c.status === 'completed' && c.counts.succeeded + c.counts.failed === RUNS) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const projected = performance.now() - t1;

  const measure = async (name, once) => {
    for (let i = 0; i < 20; i++) await once();
    const xs = [];
    for (let i = 0; i < ITER; i++) {
      const s = performance.now();
      await once();
      xs.push(performance.now() - s);
    }
    return { name, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) };
  };
  const check = (r) => {
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return r;
  };
  const results = [];
  results.push(
    await measure('A: cycle + first 50 runs with steps', async () => {
      const r = check(await gql(gw.url, A, { id: 'bench' }, stack.adminToken));
      if (r.data.endpointRuns.edges.length !== Math.min(50, RUNS)) throw new Error('short page');
    }),
  );
  results.push(
    await measure('B: failed runs (status filter)', async () => {
      const r = check(await gql(gw.url, B, { id: 'bench' }, stack.adminToken));
      if (r.data.endpointRuns.edges.length !== Math.min(100, Math.floor(RUNS / 10))) throw new Error('wrong failed count');
    }),
  );
  results.push(
    await measure(`C: all ${RUNS} runs, 100 per page`, async () => {
      let after = null;
      let n = 0;
      for (;;) {
        const r = check(await gql(gw.url, C, { id: 'bench', after }, stack.adminToken));
        n += r.data.endpointRuns.edges.length;
        if (!r.data.endpointRuns.pageInfo.hasNextPage) break;
        after = r.data.endpointRuns.pageInfo.endCursor;
      }
      if (n !== RUNS) throw new Error(`paged ${n} runs`);
    }),
  );
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`);
  console.log(`cycle with ${RUNS} endpoint runs: ${events} events appended in ${fmt(appended)}, gateway started and every event projected in ${fmt(projected)} (${Math.round(events / (projected / 1000))} events/s)`);
  console.log(`| query | p50 | p99 | max |`);
  console.log(`|---|---|---|---|`);
  for (const r of results) console.log(`| ${r.name} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} |`);
} finally {
  await stack.close();
}
