// The parent's side of bench/lib/subscriber-clients.mjs (used by bench/gateway-subscribers.mjs and
// bench/subscriber-floor.mjs): starting the client processes, and the latency summaries of what
// they report.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pct } from './sim-fleet.mjs';

/**
 * `count` child processes running bench/lib/subscriber-clients.mjs. Each: `{child, ended, ask, close}`
 * where `ended` holds the subscribers that saw the cycle's end, `ask(msg, key)` sends a message and
 * resolves with the first reply carrying `key`, `close()` closes its connections and waits for its exit.
 */
export function startClients(count, log = () => undefined) {
  const children = [];
  for (let k = 0; k < count; k++) {
    const child = fork(fileURLToPath(new URL('./subscriber-clients.mjs', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const waiters = [];
    const ended = new Set();
    child.on('message', (m) => {
      if (m.ended !== undefined) ended.add(m.ended);
      for (const w of waiters.splice(0)) w(m);
      if (m.failed) log(`client process ${k + 1}: ${m.failed}`);
    });
    const ask = (msg, key) =>
      new Promise((res, rej) => {
        const wait = () =>
          waiters.push((m) => {
            if (m.failed) rej(new Error(m.failed));
            else if (m[key] !== undefined) res(m[key]);
            else wait();
          });
        wait();
        child.send(msg);
      });
    children.push({ child, ended, ask, close: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.send({ close: true })))) });
  }
  return children;
}

/** p50 / p90 / p99 / max of the latencies in several Float64Arrays together. */
export function summary(xs) {
  let n = 0;
  for (const x of xs) n += x.length;
  const a = new Float64Array(n);
  n = 0;
  for (const x of xs) {
    a.set(x, n);
    n += x.length;
  }
  a.sort();
  if (a.length === 0) return { samples: 0 };
  return { samples: a.length, p50: +pct(a, 0.5).toFixed(1), p90: +pct(a, 0.9).toFixed(1), p99: +pct(a, 0.99).toFixed(1), max: +a[a.length - 1].toFixed(1) };
}

/** Latency by event type over reports (`{latencies, types, typeNames}`), worst p99 first: which events make the tail. */
export function byType(reports) {
  const lists = new Map();
  for (const x of reports)
    for (let k = 0; k < x.latencies.length; k++) {
      const type = x.typeNames[x.types[k]];
      let list = lists.get(type);
      if (!list) lists.set(type, (list = []));
      list.push(x.latencies[k]);
    }
  return Object.fromEntries(
    [...lists]
      .map(([type, xs]) => [type, summary([Float64Array.from(xs)])])
      .sort((a, b) => b[1].p99 - a[1].p99)
      .map(([type, v]) => [type, `${v.samples}: p50 ${v.p50} / p99 ${v.p99} / max ${v.max}`]),
  );
}

/**
 * What the subscribers got against what the store holds (global positions): the subscribers with
 * missing, duplicated or foreign events, and the delivered counts.
 */
export function compareWithStored(subs, stored) {
  const storedSet = new Set(stored);
  const mismatches = [];
  for (const x of subs) {
    const got = new Set(x.positions);
    const missing = stored.filter((p) => !got.has(p)).length;
    const duplicates = x.positions.length - got.size;
    const foreign = [...got].filter((p) => !storedSet.has(p)).length;
    if (missing || duplicates || foreign) mismatches.push({ i: x.i, transport: x.transport, kind: x.kind, delivered: x.positions.length, missing, duplicates, foreign });
  }
  const counts = subs.map((x) => x.positions.length);
  return { mismatches, delivered: { min: Math.min(...counts), max: Math.max(...counts), allEqualToStored: mismatches.length === 0 } };
}
