// A child process of bench/gateway-subscribers.mjs holding some of the bench's subscribers (or the
// plain NATS subscriber that measures store → bus), so that the clients do not share one event loop
// with each other and with the bench's own work: a client that waits for its own loop would add
// that wait to every latency it records. Started with `fork`; talks over IPC (advanced
// serialisation, so latencies travel as typed arrays):
//   parent → child {start: {mode: 'clients', url, wsUrl, token, cycleId, indices, fields, wsClient}}
//                  {start: {mode: 'bus', natsUrl, cycleId}}
//   child → parent {ready: true} once every subscriber is connected (or the bus subscription made)
//   child → parent {ended: i} when subscriber i saw the end of the cycle (or its connection closed)
//   parent → child {report: true} → child → parent {report: [...]} (per subscriber, or the bus's)
//   parent → child {close: true}: closes every connection, then exits.
// Subscriber i: graphql-ws when i is even, SSE when odd; `cycleProgress(cycleId)` when (i >> 1) is
// even, `patchEvents` (no filter) when odd.
// Two kinds of client (`clients` in the start message): `light` (default) speaks graphql-transport-ws
// over a plain `ws` socket and SSE over node:http, and reads of each event only what it measures
// (type, stream, position, recordedAt: the fields the gateway writes before `data`), parsing the
// whole message only when that fails or the message is not a result; `library` uses graphql-ws's
// client and fetch and parses every message. On the machine under test the clients' CPU is taken
// from the stack they measure: the light ones take about half as much.
import { performance } from 'node:perf_hooks';

const now = () => performance.timeOrigin + performance.now();
const END_TYPES = new Set(['CycleCompleted', 'CycleHalted', 'CycleAborted']);

/** A growable Float64Array: 2 million samples per run are cheaper here than as JS arrays. */
class Samples {
  constructor() {
    this.a = new Float64Array(1 << 15);
    this.n = 0;
  }
  push(x) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  get values() {
    return this.a.slice(0, this.n);
  }
}

/** Event types seen in this process, by a small number recorded with each latency. */
const typeNames = [];
const typeIds = new Map();
const typeId = (type) => {
  let id = typeIds.get(type);
  if (id === undefined) typeIds.set(type, (id = typeNames.push(type) - 1));
  return id;
};

function newSubscriber(i, cycleId, fields) {
  const transport = i % 2 === 0 ? 'ws' : 'sse';
  const kind = (i >> 1) % 2 === 0 ? 'cycleProgress' : 'patchEvents';
  const query = kind === 'cycleProgress' ? `subscription { cycleProgress(cycleId: "${cycleId}") { ${fields} } }` : `subscription { patchEvents { ${fields} } }`;
  const runPrefix = `run-${cycleId}.`;
  const cycleStream = `cycle-${cycleId}`;
  const sub = { i, transport, kind, query, latencies: new Samples(), positions: new Samples(), types: new Samples(), other: 0, errors: [], ended: undefined, close: () => undefined };
  sub.end = (why) => {
    if (sub.ended) return;
    sub.ended = why;
    process.send({ ended: i });
  };
  sub.onPayload = (payload, at) => {
    if (payload.errors) {
      sub.errors.push(JSON.stringify(payload.errors).slice(0, 300));
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
    sub.types.push(typeId(e.type));
    if (e.stream === cycleStream && END_TYPES.has(e.type)) sub.end(e.type);
  };
  return sub;
}

/**
 * The measured fields of one result, read off its JSON text without parsing the rest (the selection's
 * fields come in the order asked: eventId type stream revision position recordedAt actor data), or
 * undefined when the text is not shaped so (then the caller parses it whole).
 */
function peek(text, kind) {
  const at = text.indexOf(`{"data":{"${kind}":{`);
  if (at < 0) return undefined;
  const field = (name, from) => {
    const k = text.indexOf(`"${name}":"`, from);
    if (k < 0) return undefined;
    const start = k + name.length + 4;
    const end = text.indexOf('"', start);
    return end < 0 ? undefined : { value: text.slice(start, end), end };
  };
  const type = field('type', at);
  const stream = type && field('stream', type.end);
  const position = stream && field('position', stream.end);
  const recordedAt = position && field('recordedAt', position.end);
  if (!recordedAt) return undefined;
  return { type: type.value, stream: stream.value, position: position.value, recordedAt: recordedAt.value };
}

/** One result's text: the fast read when it works, else the whole parse. */
function onText(sub, text, at) {
  const e = peek(text, sub.kind);
  if (e) sub.onPayload({ data: { [sub.kind]: e } }, at);
  else sub.onPayload(JSON.parse(text), at);
}

/** graphql-transport-ws over a plain `ws` socket: init, subscribe, then each `next` read with `peek`. */
async function connectWsLight(sub, { wsUrl, token }) {
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
  const opened = new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const at = now();
      const text = data.toString();
      if (text.startsWith('{"id":"1","type":"next","payload":')) {
        onText(sub, text.slice(34, -1), at);
        return;
      }
      const m = JSON.parse(text);
      if (m.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: sub.query } }));
        resolve();
      } else if (m.type === 'ping') ws.send('{"type":"pong"}');
      else if (m.type === 'next') sub.onPayload(m.payload, at);
      else if (m.type === 'error') sub.errors.push(JSON.stringify(m.payload).slice(0, 300));
    });
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    setTimeout(() => reject(new Error(`subscriber ${sub.i}: no connection ack in 30 s`)), 30_000).unref();
  });
  ws.on('close', (code, reason) => {
    if (sub.ended) return;
    sub.errors.push(`socket closed at ${new Date().toISOString()}: ${code} ${reason}`);
    sub.end('closed');
  });
  await opened;
  ws.on('error', (e) => sub.errors.push(`socket error: ${e.message}`));
  sub.close = () => ws.close();
}

/** SSE over node:http: each `event: next` frame's data read with `peek`. */
async function connectSseLight(sub, { url, token }) {
  const { request } = await import('node:http');
  const body = JSON.stringify({ query: sub.query });
  const res = await new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } }, resolve);
    req.once('error', reject);
    req.end(body);
    sub.close = () => req.destroy();
  });
  if (res.statusCode !== 200) throw new Error(`subscriber ${sub.i}: HTTP ${res.statusCode}`);
  res.setEncoding('utf8');
  let buffer = '';
  res.on('data', (chunk) => {
    const at = now();
    buffer += chunk;
    let k;
    let from = 0;
    while ((k = buffer.indexOf('\n\n', from)) >= 0) {
      const frame = buffer.slice(from, k);
      from = k + 2;
      if (frame.startsWith('event: next\ndata: ')) onText(sub, frame.slice(18), at);
      else if (frame.startsWith('event: complete')) continue;
    }
    buffer = buffer.slice(from);
  });
  res.on('error', (err) => sub.errors.push(String(err)));
  res.on('close', () => {
    if (!sub.ended) {
      sub.errors.push(`stream ended at ${new Date().toISOString()}`);
      sub.end('closed');
    }
  });
}

async function connectWs(sub, { wsUrl, token, wsClient }) {
  const { createClient } = await import('graphql-ws');
  // The `ws` package by default; `undici` is Node's built-in WebSocket.
  const WebSocketImpl = wsClient === 'undici' ? globalThis.WebSocket : (await import('ws')).WebSocket;
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
      error: (e) => sub.errors.push(`socket error: ${e?.error?.message ?? e?.message ?? String(e)}`),
      connected: () => acked(),
      // A socket that closes before the cycle's end counts as a failed subscriber (it stops waiting).
      closed: (e) => {
        if (sub.ended) return;
        sub.errors.push(`socket closed at ${new Date().toISOString()}: ${e?.code} ${e?.reason ?? ''}`);
        sub.end('closed');
      },
    },
  });
  await ack;
  client.subscribe({ query: sub.query }, { next: (v) => sub.onPayload(v, now()), error: (e) => sub.errors.push(String(e?.message ?? e?.code ?? e)), complete: () => undefined });
  sub.close = () => client.dispose();
}

async function connectSse(sub, { url, token }) {
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
      sub.end('closed');
    }
  })();
}

/** recordedAt → this process for every event of the cycle on the bus (core NATS, as the gateway's fan-out sees them). */
async function busWatch({ natsUrl, cycleId }) {
  const { decodeEvent, NatsBus } = await import('@patchbay/messaging');
  const bus = await NatsBus.connect({ servers: natsUrl.split(','), name: 'patchbay-bench-bus-latency', requestTimeoutMs: 10_000 });
  const latencies = new Samples();
  const types = new Samples();
  const sub = bus.connection.subscribe('patchbay.evt.>');
  void (async () => {
    for await (const m of sub) {
      const at = now();
      try {
        const e = decodeEvent(m.data);
        if (e.metadata.stream === `cycle-${cycleId}` || e.metadata.stream.startsWith(`run-${cycleId}.`)) {
          latencies.push(at - Date.parse(e.metadata.recordedAt));
          types.push(typeId(e.type));
        }
      } catch {
        /* not an event */
      }
    }
  })();
  await bus.connection.flush();
  return { report: () => [{ bus: true, latencies: latencies.values, types: Uint8Array.from(types.values), typeNames }], close: () => bus.close() };
}

let running;
process.on('message', async (msg) => {
  try {
    if (msg.start) {
      const o = msg.start;
      if (o.mode === 'bus') running = await busWatch(o);
      else {
        const subs = o.indices.map((i) => newSubscriber(i, o.cycleId, o.fields));
        const light = o.clients !== 'library';
        await Promise.all(subs.map((sub) => (sub.transport === 'ws' ? (light ? connectWsLight : connectWs)(sub, o) : (light ? connectSseLight : connectSse)(sub, o))));
        running = {
          report: () => subs.map((x) => ({ i: x.i, transport: x.transport, kind: x.kind, latencies: x.latencies.values, positions: x.positions.values, types: Uint8Array.from(x.types.values), typeNames, other: x.other, errors: x.errors.slice(0, 5), errorCount: x.errors.length, ended: x.ended })),
          close: async () => {
            for (const x of subs) await Promise.resolve(x.close()).catch(() => undefined);
          },
        };
      }
      process.send({ ready: true });
    } else if (msg.report) process.send({ report: running?.report() ?? [] });
    else if (msg.close) {
      await running?.close();
      process.exit(0);
    }
  } catch (err) {
    process.send({ failed: String(err?.stack ?? err) });
  }
});
