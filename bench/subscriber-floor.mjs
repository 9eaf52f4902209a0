// The floor of event → subscriber latency on this machine: the events of a real cycle (the file
// bench/gateway-subscribers.mjs --save-timeline writes) replayed at their recorded times by a bare
// server that does the least any gateway must do — for each event, one JSON text per distinct
// selection (cycleProgress, patchEvents), made once, and those same bytes written to every
// subscriber: graphql-transport-ws frames over `ws` (no compression) and SSE frames over node:http,
// the writes of one timer tick corked together per connection. No event store, relay, NATS or
// GraphQL; the same subscribers as bench/gateway-subscribers.mjs (bench/lib/subscriber-clients.mjs
// in `--client-processes` children: i even graphql-ws, odd SSE; (i >> 1) even cycleProgress, odd
// patchEvents), the same fields in the same order. Each message's recordedAt is the wall time the
// replay scheduled its event for (the cycle's start here + the event's recorded offset from the
// cycle's first event), so latency = arrival − scheduled time: what handing the cycle's events to
// the subscribers costs on this machine with nothing else running, including the replay falling
// behind its schedule in a burst.
//   ./node_modules/.bin/node bench/gateway-subscribers.mjs --save-timeline /tmp/cycle.jsonl
//   ulimit -n 65536 && ./node_modules/.bin/node bench/subscriber-floor.mjs --timeline /tmp/cycle.jsonl \
//     [--subscribers 100] [--client-processes 4] [--clients light|library]
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { processWatch } from './lib/sim-fleet.mjs';
import { byType, compareWithStored, startClients, summary } from './lib/subscribers.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.indexOf(name) < 0 ? dflt : args[args.indexOf(name) + 1]);
const TIMELINE = opt('--timeline', undefined);
const SUBS = Number(opt('--subscribers', '100'));
const CLIENT_PROCS = Number(opt('--client-processes', '4'));
const CLIENTS = opt('--clients', 'light');
const FIELDS = 'eventId type stream revision position recordedAt actor data';
if (!TIMELINE) throw new Error('--timeline <file> is required (bench/gateway-subscribers.mjs --save-timeline <file> writes one)');

const say = (l) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);
const events = readFileSync(TIMELINE, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
if (events.length === 0) throw new Error(`${TIMELINE} holds no events`);
const cycleStream = events.find((e) => e.stream.startsWith('cycle-'))?.stream;
if (!cycleStream) throw new Error(`${TIMELINE} holds no event of a cycle- stream`);
const cycleId = cycleStream.slice('cycle-'.length);
const first = Date.parse(events[0].recordedAt);
for (const e of events) e.offset = Date.parse(e.recordedAt) - first;

// ---------------------------------------------------------------- the bare server
/** Subscriptions by selection: {kind, write(buffers)} per connection. */
const subscribers = { cycleProgress: [], patchEvents: [] };
const kindOf = (query) => (/\bcycleProgress\b/.test(query) ? 'cycleProgress' : 'patchEvents');
const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const kind = kindOf(JSON.parse(body).query);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    const socket = res.socket;
    subscribers[kind].push({ sse: true, socket, write: (b) => res.write(b) });
  });
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.type === 'connection_init') ws.send('{"type":"connection_ack"}');
    else if (m.type === 'ping') ws.send('{"type":"pong"}');
    else if (m.type === 'subscribe') {
      const prefix = `{"id":${JSON.stringify(m.id)},"type":"next","payload":`;
      subscribers[kindOf(m.payload.query)].push({ sse: false, prefix, socket: ws._socket, write: (b) => ws.send(b, { binary: false }) });
    }
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/graphql`;
const wsUrl = url.replace(/^http/, 'ws');

/** One event's result as the gateway writes it for a selection (fields in the order asked), with recordedAt = its scheduled time. */
const resultJson = (kind, e, recordedAt) =>
  `{"data":{"${kind}":{"eventId":${JSON.stringify(e.eventId)},"type":${JSON.stringify(e.type)},"stream":${JSON.stringify(e.stream)},"revision":${e.revision},"position":"${e.position}","recordedAt":"${recordedAt}","actor":${JSON.stringify(e.actor)},"data":${e.data}}}}`;

let behind = 0;
/** Writes the events now due: each result made once per selection, the same bytes to every subscriber of it. */
function send(due, t0) {
  for (const kind of ['cycleProgress', 'patchEvents']) {
    const subs = subscribers[kind];
    if (subs.length === 0) continue;
    const wsFrames = new Map();
    const sseFrames = [];
    const jsons = due.map((e) => resultJson(kind, e, new Date(t0 + e.offset).toISOString()));
    for (const s of subs) {
      s.socket.cork();
      if (s.sse) {
        if (sseFrames.length === 0) for (const j of jsons) sseFrames.push(Buffer.from(`event: next\ndata: ${j}\n\n`));
        for (const b of sseFrames) s.write(b);
      } else {
        let frames = wsFrames.get(s.prefix);
        if (!frames) wsFrames.set(s.prefix, (frames = jsons.map((j) => Buffer.from(`${s.prefix}${j}}`))));
        for (const b of frames) s.write(b);
      }
      process.nextTick(() => s.socket.uncork());
    }
  }
}

function replay(t0) {
  return new Promise((resolve) => {
    let k = 0;
    const tick = () => {
      const now = Date.now();
      const due = [];
      while (k < events.length && t0 + events[k].offset <= now) due.push(events[k++]);
      if (due.length) {
        behind = Math.max(behind, now - (t0 + due[0].offset));
        send(due, t0);
      }
      if (k < events.length) setTimeout(tick, Math.max(0, t0 + events[k].offset - Date.now()));
      else resolve();
    };
    setTimeout(tick, Math.max(0, t0 - Date.now()));
  });
}

// ---------------------------------------------------------------- run
const { watched, cpuAll, stop: stopWatch } = processWatch();
watched.set('floor-server', process.pid);
const figures = { bench: 'subscriber floor (bare fan-out, no stack)', clients: CLIENTS, date: new Date().toISOString(), nproc: cpus().length, memGiB: +(totalmem() / 2 ** 30).toFixed(1), loadavgAtStart: loadavg().map((x) => +x.toFixed(1)), timeline: TIMELINE, events: events.length, cycleSpanS: +(events.at(-1).offset / 1000).toFixed(2), subscribers: SUBS };
const clients = startClients(CLIENT_PROCS, say);
clients.forEach((c, k) => watched.set(`clients-${k + 1}`, c.child.pid));
let ok = false;
try {
  const indices = (k) => [...Array(SUBS).keys()].filter((i) => i % CLIENT_PROCS === k);
  await Promise.all(clients.map((c, k) => c.ask({ start: { mode: 'clients', url, wsUrl, token: 'floor', cycleId, indices: indices(k), fields: FIELDS, clients: CLIENTS } }, 'ready')));
  for (let i = 0; i < 200 && subscribers.cycleProgress.length + subscribers.patchEvents.length < SUBS; i++) await new Promise((r) => setTimeout(r, 50));
  if (subscribers.cycleProgress.length + subscribers.patchEvents.length < SUBS) throw new Error('not every subscriber subscribed');
  say(`${SUBS} subscribers in ${CLIENT_PROCS} client processes; replaying ${events.length} events over ${figures.cycleSpanS} s`);
  const cpu0 = cpuAll();
  const t = performance.now();
  await replay(Date.now() + 500);
  const endedCount = () => clients.reduce((a, c) => a + c.ended.size, 0);
  for (let i = 0; i < 6000 && endedCount() < SUBS; i++) await new Promise((r) => setTimeout(r, 10));
  figures.replayToLastDeliveryS = +((performance.now() - t) / 1000 - 0.5).toFixed(2);
  const cpu1 = cpuAll();
  figures.cpuS = Object.fromEntries(Object.keys(cpu1).map((k) => [k, +(cpu1[k] - cpu0[k]).toFixed(1)]));
  figures.replayMaxBehindMs = behind;
  const subs = (await Promise.all(clients.map((c) => c.ask({ report: true }, 'report')))).flat().sort((a, b) => a.i - b.i);
  const { mismatches, delivered } = compareWithStored(
    subs,
    events.map((e) => Number(e.position)),
  );
  figures.deliveredPerSubscriber = delivered;
  if (mismatches.length) figures.mismatches = mismatches.slice(0, 10);
  figures.subscriberErrors = subs.reduce((a, x) => a + x.errorCount, 0);
  figures.latencyMs = { all: summary(subs.map((x) => x.latencies)) };
  for (const tr of ['ws', 'sse']) for (const k of ['cycleProgress', 'patchEvents']) figures.latencyMs[`${tr} ${k}`] = summary(subs.filter((x) => x.transport === tr && x.kind === k).map((x) => x.latencies));
  figures.latencyByTypeMs = byType(subs);
  ok = mismatches.length === 0 && figures.subscriberErrors === 0 && endedCount() === SUBS;
} catch (e) {
  figures.error = e.message;
  say(`FAILED: ${e.stack ?? e.message}`);
} finally {
  for (const c of clients) await c.close().catch(() => undefined);
  stopWatch();
  wss.close();
  server.closeAllConnections();
  server.close();
}
say(`figures: ${JSON.stringify(figures, null, 1)}`);
process.exit(ok ? 0 : 1);
