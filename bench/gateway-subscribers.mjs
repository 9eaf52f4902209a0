// Event → GraphQL subscriber latency during a cycle on the simulated fleet: the embedded stack
// (`up()`, one process per service + relay + gateway + nats-server) and the simulated fleet (child
// process) prepared as in bench/cycle-simulated.mjs (shared pieces in bench/lib/sim-fleet.mjs),
// then S subscribers connected to the gateway before the cycle is requested (the bench picks the
// cycle id, as the CLI does), each on its own connection:
//   subscriber i: transport graphql-ws when i is even, SSE when odd;
//                 `cycleProgress(cycleId)` when (i >> 1) is even, `patchEvents` (no filter) when odd
// so with 100 subscribers 25 of each pair. Every subscriber asks the CLI's fields
// (eventId type stream revision position recordedAt actor data).
// Latency of one delivery = the time the subscriber's message arrived (this process, wall clock)
// minus the event's `recordedAt` (written by the service that appended it, same machine clock).
// Only events of the cycle's streams count (`cycle-<id>`, `run-<id>.*`). Delivered per subscriber
// is compared with what the SQLite store holds for those streams (by global position: none lost,
// none twice). For reference, a plain NATS subscriber in this process measures recordedAt → the
// event on the bus (what the relay adds before the gateway sees it).
// Build first: npx tsc -b libs/cli libs/fleet-lab. Raise the descriptor limit in the same shell:
//   ulimit -n 65536 && ./node_modules/.bin/node bench/gateway-subscribers.mjs [--endpoints 1000] \
//     [--concurrency 200] [--apt-latency-ms 200] [--reboot-delay-ms 1000] [--facts-concurrency 200] \
//     [--subscribers 100] [--ws-client ws|undici] [--base-port 20000] [--profile <dir>] [--keep]
// --profile <dir>: every stack process writes a V8 CPU profile there when it stops; the gateway's
// is named in the output (summarise it with bench/lib/cpuprofile-top.mjs).
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { childrenOf, commOf, cycleEndOf, cyclePositions, inventoryIni, pct, processWatch, simBundle, simulatedFleetEnv, startFleet } from './lib/sim-fleet.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.indexOf(name) < 0 ? dflt : args[args.indexOf(name) + 1]);
const N = Number(opt('--endpoints', '1000'));
const CONC = Number(opt('--concurrency', '200'));
const APT_MS = Number(opt('--apt-latency-ms', '200'));
const REBOOT_MS = Number(opt('--reboot-delay-ms', '1000'));
const BASE_PORT = Number(opt('--base-port', '20000'));
const SUBS = Number(opt('--subscribers', '100'));
const CYCLE_TIMEOUT_S = Number(opt('--cycle-timeout-s', '900'));
const PROFILE_DIR = opt('--profile', undefined);
const FIELDS = 'eventId type stream revision position recordedAt actor data';
if (BASE_PORT + N >= 32768) throw new Error(`--base-port + --endpoints must stay below 32768 (ephemeral ports), got ${BASE_PORT + N}`);

simulatedFleetEnv({ concurrency: CONC, factsConcurrency: opt('--facts-concurrency', '200') });
const token = `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
process.env['PATCHBAY_ADMIN_TOKEN'] = token;

const { up } = await import('@patchbay/cli');
const { DEFAULT_SCENARIO, generateSshKeyPair } = await import('@patchbay/fleet-lab');
const { decodeEvent, NatsBus } = await import('@patchbay/messaging');
const { createClient } = await import('graphql-ws');
// The WebSocket client: the `ws` package by default; `--ws-client undici` uses Node's built-in
// WebSocket, whose sockets failed (1006, no message) under this load in earlier runs.
const WS_CLIENT = opt('--ws-client', 'ws');
const WebSocketImpl = WS_CLIENT === 'undici' ? globalThis.WebSocket : (await import('ws')).WebSocket;

const say = (l) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);
const s = (ms) => (ms / 1000).toFixed(2);
const work = mkdtempSync(join(tmpdir(), 'pb-gw-subs-'));
const dataDir = join(work, 'patchbay');
mkdirSync(dataDir, { recursive: true });
const now = () => performance.timeOrigin + performance.now();
const { watched, peaks, poll, cpuAll, stop: stopWatch } = processWatch();

// ---------------------------------------------------------------- subscribers
/** What one subscriber saw of the cycle: arrival minus recordedAt per event, global positions, the end. */
function newSubscriber(i, cycleId) {
  const transport = i % 2 === 0 ? 'ws' : 'sse';
  const kind = (i >> 1) % 2 === 0 ? 'cycleProgress' : 'patchEvents';
  const query = kind === 'cycleProgress' ? `subscription { cycleProgress(cycleId: "${cycleId}") { ${FIELDS} } }` : `subscription { patchEvents { ${FIELDS} } }`;
  const runPrefix = `run-${cycleId}.`;
  const cycleStream = `cycle-${cycleId}`;
  const sub = { i, transport, kind, query, latencies: [], positions: [], other: 0, errors: [], ended: undefined, endedP: undefined, close: () => undefined };
  let ended;
  sub.endedP = new Promise((r) => (ended = r));
  sub.end = (why) => ended(why);
  sub.onPayload = (payload, at) => {
    if (payload.errors) {
      sub.errors.push(payload.errors);
      return;
    }
    const e = payload.data?.[kind];
    if (!e) return;
    if (e.stream !== cycleStream && !e.stream.startsWith(runPrefix)) {
      sub.other++;
      return;
    }
    sub.latencies.push(at - Date.parse(e.recordedAt));
    sub.positions.push(Number(e.position));
    if (e.stream === cycleStream && ['CycleCompleted', 'CycleHalted', 'CycleAborted'].includes(e.type)) {
      sub.ended = e.type;
      ended(e.type);
    }
  };
  return sub;
}

async function connectWs(sub, wsUrl) {
  let acked;
  const ack = new Promise((r, j) => {
    acked = r;
    setTimeout(() => j(new Error(`subscriber ${sub.i}: no connection ack in 30 s`)), 30_000).unref();
  });
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocketImpl,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
    onNonLazyError: (e) => sub.errors.push(`socket error: ${e?.error?.message ?? e?.message ?? e?.code ?? String(e)}`),
    on: {
      error: (e) => sub.errors.push(`socket error: ${e?.error?.message ?? e?.message ?? String(e)}${e?.error?.cause ? ` (${e.error.cause.message ?? e.error.cause})` : ''}`),
      connected: () => acked(),
      // A socket that closes before the cycle's end counts as a failed subscriber (it stops waiting).
      closed: (e) => {
        if (sub.ended) return;
        sub.errors.push(`socket closed at ${new Date().toISOString()}: ${e?.code} ${e?.reason ?? ''}`);
        sub.ended = 'closed';
        sub.end('closed');
      },
    },
  });
  await ack;
  client.subscribe({ query: sub.query }, { next: (v) => sub.onPayload(v, now()), error: (e) => sub.errors.push(String(e?.message ?? e?.code ?? e)), complete: () => undefined });
  sub.close = () => client.dispose();
}

async function connectSse(sub, url) {
  const abort = new AbortController();
  const res = await fetch(url, { method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: sub.query }) });
  if (res.status !== 200) throw new Error(`subscriber ${sub.i}: HTTP ${res.status} ${await res.text()}`);
  sub.close = () => abort.abort();
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        const at = now();
        buffer += decoder.decode(chunk, { stream: true });
        let k;
        while ((k = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, k);
          buffer = buffer.slice(k + 2);
          if (!frame.startsWith('event: next') && !frame.includes('\ndata:') && !frame.startsWith('data:')) continue;
          const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('');
          if (data) sub.onPayload(JSON.parse(data), at);
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) sub.errors.push(String(err));
    }
    if (!sub.ended && !abort.signal.aborted) {
      sub.errors.push(`stream ended at ${new Date().toISOString()}`);
      sub.ended = 'closed';
      sub.end('closed');
    }
  })();
}

// ---------------------------------------------------------------- run
const figures = { date: new Date().toISOString(), nproc: cpus().length, memGiB: +(totalmem() / 2 ** 30).toFixed(1), loadavgAtStart: loadavg().map((x) => +x.toFixed(1)), endpoints: N, concurrency: CONC, aptMs: APT_MS, rebootMs: REBOOT_MS, subscribers: SUBS, wsClient: WS_CLIENT, fleet: 'simulated, 1 child process (libs/fleet-lab/dist/sim/main.js)' };
let fleet;
let stopStack;
let stackDone;
let bus;
const subs = [];
let ok = false;
try {
  watched.set('bench', process.pid);
  const key = generateSshKeyPair();
  const keyPath = join(work, 'client-key');
  writeFileSync(keyPath, key.private);
  chmodSync(keyPath, 0o600);
  fleet = startFleet({ endpoints: N, basePort: BASE_PORT, clientPublicKey: key.public, aptMs: APT_MS, rebootMs: REBOOT_MS });
  watched.set('fleet', fleet.pid);
  const ready = await fleet.ready;
  say(`fleet: ${N} endpoints from port ${BASE_PORT}`);

  const saved = process.env['NODE_OPTIONS'];
  if (PROFILE_DIR) process.env['NODE_OPTIONS'] = `${saved ?? ''} --cpu-prof --cpu-prof-dir=${resolve(PROFILE_DIR)}`.trim();
  const until = new Promise((r) => (stopStack = r));
  let onReady;
  const readyP = new Promise((r) => (onReady = r));
  stackDone = up({ dataDir, port: 0, until, onReady, log: () => undefined });
  const failed = stackDone.then(() => Promise.reject(new Error('the stack stopped early')));
  failed.catch(() => undefined);
  const info = await Promise.race([readyP, failed]);
  if (PROFILE_DIR) {
    if (saved === undefined) delete process.env['NODE_OPTIONS'];
    else process.env['NODE_OPTIONS'] = saved;
  }
  for (const [name, pid] of Object.entries(info.pids)) if (pid) watched.set(name, pid);
  for (const pid of childrenOf(process.pid)) if (commOf(pid) === 'nats-server') watched.set('nats-server', pid);
  const url = info.url;
  const wsUrl = url.replace(/^http/, 'ws');
  say(`stack up: ${url} ${[...watched].map(([k, v]) => `${k}=${v}`).join(' ')}`);

  bus = await NatsBus.connect({ servers: info.natsUrl.split(','), name: 'patchbay-bench-subscribers', requestTimeoutMs: 900_000 });
  const send = (service, name, payload) => bus.request(`patchbay.cmd.${service}.${name}`, { commandId: randomUUID(), actor: 'bench-operator', correlationId: 'bench-subscribers', payload }, { timeoutMs: 900_000 });
  await send('inventory', 'import', { format: 'ansible-ini', fileName: 'sim-inventory.ini', content: inventoryIni(ready.targets, keyPath), hostKeyPolicy: 'tofu' });
  let t = performance.now();
  const facts = await send('inventory', 'gather-facts', { wait: true, refresh: true });
  const answered = (facts?.outcomes ?? []).filter((o) => o.ok).length;
  say(`facts: ${answered}/${N} answered in ${s(performance.now() - t)} s`);
  await send('policy', 'bundle.apply', { files: [{ name: 'sim.yaml', content: simBundle({ app: DEFAULT_SCENARIO.app, concurrency: CONC, endpoints: N }) }] });
  for (let i = 0; ; i++) {
    const g = await send('policy', 'group.get', { groupId: 'sim' });
    if ((g.members?.length ?? 0) >= answered) break;
    if (i > 1200) throw new Error(`group sim has ${g.members?.length ?? 0} members, expected ${answered}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // The bus as the gateway's fan-out sees it: recordedAt → this process (core NATS subscription).
  const cycleId = `c-${randomUUID()}`;
  const busLatencies = [];
  const busSub = bus.connection.subscribe('patchbay.evt.>');
  void (async () => {
    for await (const m of busSub) {
      const at = now();
      try {
        const e = decodeEvent(m.data);
        if (e.metadata.stream === `cycle-${cycleId}` || e.metadata.stream.startsWith(`run-${cycleId}.`)) busLatencies.push(at - Date.parse(e.metadata.recordedAt));
      } catch {
        /* not an event */
      }
    }
  })();

  t = performance.now();
  for (let i = 0; i < SUBS; i++) subs.push(newSubscriber(i, cycleId));
  await Promise.all(subs.map((sub) => (sub.transport === 'ws' ? connectWs(sub, wsUrl) : connectSse(sub, url))));
  // graphql-ws does not acknowledge a subscription: give the gateway a moment to start them all.
  await new Promise((r) => setTimeout(r, 2000));
  const early = subs.filter((x) => x.errors.length);
  if (early.length) throw new Error(`${early.length} subscribers failed: ${JSON.stringify(early[0].errors)}`);
  say(`${SUBS} subscribers connected in ${s(performance.now() - t)} s`);

  const cpu0 = cpuAll();
  const tReq = performance.now();
  await send('planner', 'cycle.request', { policyId: 'sim', cycleId });
  say(`cycle ${cycleId} requested`);
  const cycleEnd = new Promise((resolve) => {
    const poll = setInterval(() => {
      const end = cycleEndOf(dataDir, cycleId);
      if (end) {
        clearInterval(poll);
        resolve(end);
      }
    }, 250);
  });
  void cycleEnd.then((end) => {
    figures.cycleStoredWallS = +s(performance.now() - tReq);
    say(`cycle ${end} in the store after ${figures.cycleStoredWallS} s`);
  });
  const all = Promise.all(subs.map((x) => x.endedP));
  const timeout = new Promise((_, j) => setTimeout(() => j(new Error(`not every subscriber saw the end of ${cycleId} within ${CYCLE_TIMEOUT_S} s`)), CYCLE_TIMEOUT_S * 1000).unref());
  const progress = setInterval(() => {
    const got = subs.map((x) => x.positions.length);
    say(`  +${s(performance.now() - tReq)} s: delivered per subscriber ${Math.min(...got)}–${Math.max(...got)}, ended ${subs.filter((x) => x.ended).length}/${SUBS}`);
  }, 10_000);
  try {
    await Promise.race([all, timeout]);
  } finally {
    clearInterval(progress);
  }
  figures.requestToLastDeliveryS = +s(performance.now() - tReq);
  const cpu1 = cpuAll();
  figures.cycleCpuS = Object.fromEntries(Object.keys(cpu1).map((k) => [k, +(cpu1[k] - cpu0[k]).toFixed(1)]));
  // Anything recorded after the end event (none expected) still has time to arrive.
  await new Promise((r) => setTimeout(r, 2000));
  busSub.unsubscribe();

  const stored = cyclePositions(dataDir, cycleId);
  figures.storedEvents = stored.length;
  figures.endEvent = subs.find((x) => x.ended !== 'closed')?.ended;
  figures.closedBeforeEnd = subs.filter((x) => x.ended === 'closed').length;
  const storedSet = new Set(stored);
  const lost = [];
  for (const x of subs) {
    const got = new Set(x.positions);
    const missing = stored.filter((p) => !got.has(p)).length;
    const duplicates = x.positions.length - got.size;
    const foreign = [...got].filter((p) => !storedSet.has(p)).length;
    if (missing || duplicates || foreign) lost.push({ i: x.i, transport: x.transport, kind: x.kind, delivered: x.positions.length, missing, duplicates, foreign });
  }
  const counts = subs.map((x) => x.positions.length);
  figures.deliveredPerSubscriber = { min: Math.min(...counts), max: Math.max(...counts), allEqualToStored: lost.length === 0 };
  if (lost.length) figures.mismatches = lost.slice(0, 10);
  figures.subscriberErrors = subs.reduce((a, x) => a + x.errors.length, 0);
  if (figures.subscriberErrors) figures.firstErrors = subs.filter((x) => x.errors.length).slice(0, 5).map((x) => ({ i: x.i, transport: x.transport, kind: x.kind, errors: x.errors.map(String).slice(0, 2) }));

  const summary = (xs) => {
    const a = Float64Array.from(xs).sort();
    if (a.length === 0) return { samples: 0 };
    return { samples: a.length, p50: +pct(a, 0.5).toFixed(1), p90: +pct(a, 0.9).toFixed(1), p99: +pct(a, 0.99).toFixed(1), max: +a[a.length - 1].toFixed(1) };
  };
  figures.latencyMs = { all: summary(subs.flatMap((x) => x.latencies)) };
  for (const tr of ['ws', 'sse']) for (const k of ['cycleProgress', 'patchEvents']) figures.latencyMs[`${tr} ${k}`] = summary(subs.filter((x) => x.transport === tr && x.kind === k).flatMap((x) => x.latencies));
  figures.busLatencyMs = summary(busLatencies);
  // Gateway CPU per delivery (one event to one subscriber), over the request → last delivery window.
  figures.deliveries = subs.reduce((a, x) => a + x.positions.length + x.other, 0);
  figures.gatewayCpuPerDeliveryUs = Math.round((figures.cycleCpuS.gateway * 1e6) / figures.deliveries);
  ok = lost.length === 0 && figures.subscriberErrors === 0 && figures.storedEvents > 0;
} catch (e) {
  figures.error = e.message;
  say(`FAILED: ${e.stack ?? e.message}`);
} finally {
  poll();
  figures.peakRssMiB = Object.fromEntries([...peaks].map(([k, v]) => [k, Math.round(v / 1024)]));
  for (const x of subs) await Promise.resolve(x.close()).catch(() => undefined);
  await bus?.close().catch(() => undefined);
  stopStack?.();
  await stackDone?.catch(() => undefined);
  await fleet?.stop();
  stopWatch();
}
if (PROFILE_DIR) {
  const gw = watched.get('gateway');
  figures.gatewayProfile = readdirSync(PROFILE_DIR).filter((f) => f.includes(`.${gw}.`)).map((f) => join(resolve(PROFILE_DIR), f))[0];
}
say(`figures: ${JSON.stringify(figures, null, 1)}`);
if (ok && !args.includes('--keep')) rmSync(work, { recursive: true, force: true });
else say(`data and stack logs kept in ${work}`);
process.exit(ok ? 0 : 1);
