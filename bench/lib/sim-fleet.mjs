// Pieces shared by the benchmarks that run the embedded stack against the simulated fleet
// (bench/cycle-simulated.mjs, bench/gateway-subscribers.mjs, bench/console-live-view.mjs): /proc
// readings of the processes, the fleet child process, the stack with a bus to command it, the
// workflow/group/policy bundle, the Ansible INI inventory, the fleet made ready for a cycle, and
// counts read from the SQLite event store.
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createInterface } from 'node:readline';
import { bundleYaml, labInventoryIni, labPolicyYaml, labWorkflowYaml } from '@patchbay/fleet-lab';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);

/** Settings the stack needs on the simulated fleet; read by the services when `up()` starts them. */
export function simulatedFleetEnv({ concurrency, factsConcurrency }) {
  // The simulated shell has no `timeout -k`.
  process.env['PATCHBAY_INVENTORY_REMOTE_PROCESS_CONTROL'] = 'false';
  process.env['PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL'] = 'false';
  process.env['PATCHBAY_EXECUTOR_CONCURRENCY'] = String(concurrency);
  // Facts are gathered 16 endpoints at a time by default.
  if (factsConcurrency) process.env['PATCHBAY_INVENTORY_FACTS_CONCURRENCY'] = String(factsConcurrency);
  // The reboot marker script (`sh -c '... "$1" ... >/dev/null'`) needs expansions and redirections
  // the simulated shell refuses (exit 2, "unsupported expansion"): reboot plainly, as without a shell.
  process.env['PATCHBAY_EXECUTOR_REBOOT_MARKER'] = 'false';
}

export const childrenOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
export const commOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
/** A `<field>: <n> kB` line of a /proc/<pid>/<file> in kB (NaN when unreadable). */
const procKb = (file) => (pid, field) => {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
};
export const statusKb = procKb('status');
/** A field of /proc/<pid>/smaps_rollup (Pss: shared pages divided among their sharers). */
export const smapsRollupKb = procKb('smaps_rollup');

/** utime+stime of a process in seconds (clock ticks of /proc/<pid>/stat, 100 per second on Linux). */
export const cpuOf = (pid) => {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
};

/** The stack's processes (every Patchbay process and nats-server), not the fleet or the bench (and its client processes). */
export const isStackProcess = (name) => !name.startsWith('bench') && !name.startsWith('fleet');

/**
 * Lowers the CPU priority of every thread of a process (on Linux the nice value belongs to each
 * thread, so renicing the pid alone leaves its other threads as they were).
 */
export const reniceAll = (pid, nice) => {
  for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), nice);
};

/**
 * Named processes watched for CPU and peak RSS: VmHWM is the kernel's own high-water mark, read
 * every second so a process that exits still counts.
 */
export function processWatch() {
  const watched = new Map(); // name → pid
  const peaks = new Map();
  // Peaks from `resetWindow()` on: the kernel's high-water mark is reset by writing 5 to
  // /proc/<pid>/clear_refs, so a later phase (the cycle) gets its own peak, apart from facts.
  const windowPeaks = new Map();
  let windowOpen = false;
  // RSS counts pages shared between processes (the node binary's code, shared libraries) once in
  // every process; PSS divides each shared page among its sharers, so the sum of PSS is what the
  // processes use together. Sampled every second (the kernel keeps no PSS peak).
  const pss = { peak: 0, windowPeak: 0 };
  const poll = () => {
    let pssSum = 0;
    for (const [name, pid] of watched) {
      const hwm = statusKb(pid, 'VmHWM');
      if (Number.isFinite(hwm)) {
        peaks.set(name, Math.max(peaks.get(name) ?? 0, hwm));
        if (windowOpen) windowPeaks.set(name, Math.max(windowPeaks.get(name) ?? 0, hwm));
      }
      const kb = isStackProcess(name) ? smapsRollupKb(pid, 'Pss') : NaN;
      if (Number.isFinite(kb)) pssSum += kb;
    }
    pss.peak = Math.max(pss.peak, pssSum);
    if (windowOpen) pss.windowPeak = Math.max(pss.windowPeak, pssSum);
  };
  const timer = setInterval(poll, 1000);
  return {
    watched,
    peaks,
    windowPeaks,
    /** Peak of the summed PSS of the stack's processes (kB), whole run and since `resetWindow()`. */
    pss,
    resetWindow: () => {
      poll();
      for (const pid of watched.values()) {
        try {
          writeFileSync(`/proc/${pid}/clear_refs`, '5');
        } catch {
          // not ours to reset (or gone): its whole-run peak stands
        }
      }
      windowPeaks.clear();
      windowOpen = true;
    },
    poll,
    cpuAll: () => Object.fromEntries([...watched].map(([k, pid]) => [k, cpuOf(pid)])),
    stop: () => clearInterval(timer),
  };
}

/**
 * The simulated fleet in a child process (`libs/fleet-lab/dist/sim/main.js`): `ready` resolves with
 * its `{event: 'ready', targets}` line, `stop()` with its `stopped` line (counters, CPU) or undefined.
 */
export function startFleet({ endpoints, basePort, clientPublicKey, aptMs, rebootMs }) {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'libs/fleet-lab/dist/sim/main.js'), '--endpoints', String(endpoints), '--client-key', clientPublicKey.trim(), '--apt-latency-ms', String(aptMs), '--reboot-delay-ms', String(rebootMs), '--base-port', String(basePort)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  let stopped;
  const stoppedP = new Promise((r) => (stopped = r));
  const ready = new Promise((res, rej) => {
    child.on('exit', (code) => rej(new Error(`fleet exited with ${code} before it was ready`)));
    lines.on('line', (l) => {
      let m;
      try {
        m = JSON.parse(l);
      } catch {
        return;
      }
      if (m.event === 'ready') res(m);
      if (m.event === 'stopped') stopped(m);
    });
  });
  return {
    pid: child.pid,
    ready,
    stop: async () => {
      child.kill('SIGTERM');
      return Promise.race([stoppedP, new Promise((r) => setTimeout(() => r(undefined), 15_000))]);
    },
  };
}

/**
 * The bundle every simulated-fleet bench applies: workflow `sim-cycle` (check disk, stop the app,
 * upgrade, reboot if required, start the app, validate), group `sim` (label fleet=sim) and policy
 * `sim` (one wave; `approval` by default automatic) as one file.
 * No `wait-for tcp 22` step: each simulated endpoint's sshd is on its own port, not 22.
 */
export function simBundle({ app, concurrency, endpoints, approval }) {
  return bundleYaml(
    labWorkflowYaml({ id: 'sim-cycle', name: 'Check disk, stop the app, upgrade, reboot if required, start the app, validate', app, patchTimeoutSeconds: 600, rebootReturnSeconds: 300, rebootTimeoutSeconds: 360 }),
    labPolicyYaml({ groupId: 'sim', groupName: 'Simulated endpoints', selector: 'fleet=sim', policyId: 'sim', workflowId: 'sim-cycle', maxConcurrency: concurrency, errorThreshold: endpoints, approval }),
  );
}

/** The fleet as an Ansible INI inventory (label fleet=sim, the client key as the private key file). */
export function inventoryIni(targets, keyPath) {
  return labInventoryIni(
    'sim',
    targets.map((t) => ({ name: t.id, host: t.host, port: t.port })),
    { vars: { fleet: 'sim' }, keyPath },
  );
}

function withStore(dataDir, fn) {
  const db = new DatabaseSync(join(dataDir, 'events.db'), { readOnly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** The last global position of the SQLite store in `dataDir`. */
export const eventsAppended = (dataDir) => withStore(dataDir, (db) => Number(db.prepare('SELECT COALESCE(MAX(position), 0) AS n FROM events').get().n));

/** Events by type after a position. */
export const eventTypes = (dataDir, fromPos) => withStore(dataDir, (db) => db.prepare('SELECT type, COUNT(*) AS n FROM events WHERE position > ? GROUP BY type ORDER BY n DESC').all(fromPos));

/** The events of a cycle's run streams (`run-<id>.*`) after a position: type, data (JSON text), recorded_at. */
export const runEventsOf = (dataDir, cycleId, fromPos) =>
  withStore(dataDir, (db) =>
    db
      .prepare("SELECT type, data, recorded_at FROM events WHERE position > ? AND stream LIKE ? ESCAPE '\\' ORDER BY position")
      .all(fromPos, `run-${cycleId.replace(/[\\%_]/g, (c) => `\\${c}`)}.%`),
  );

/**
 * The embedded stack (`up()` of @patchbay/cli) on `dataDir`, its processes (nats-server included)
 * added to `watched`, and a bus connection to command it: `send(service, name, payload, actor?)`.
 * `profileDir`: every stack process writes a V8 CPU profile there when it stops. `stop()` ends
 * the bus connection and the stack. Call after `simulatedFleetEnv` (the services read it at start).
 */
export async function startStack({ dataDir, watched, name, profileDir, log = () => undefined }) {
  const { up } = await import('@patchbay/cli');
  const { NatsBus } = await import('@patchbay/messaging');
  const saved = process.env['NODE_OPTIONS'];
  if (profileDir) process.env['NODE_OPTIONS'] = `${saved ?? ''} --cpu-prof --cpu-prof-dir=${resolve(profileDir)}`.trim();
  let stopStack;
  let onReady;
  const until = new Promise((r) => (stopStack = r));
  const readyP = new Promise((r) => (onReady = r));
  const done = up({ dataDir, port: 0, until, onReady, log });
  const failed = done.then(() => Promise.reject(new Error('the stack stopped early')));
  failed.catch(() => undefined);
  let info;
  let bus;
  try {
    info = await Promise.race([readyP, failed]);
    for (const [n, pid] of Object.entries(info.pids)) if (pid) watched.set(n, pid);
    for (const pid of childrenOf(process.pid)) if (commOf(pid) === 'nats-server') watched.set('nats-server', pid);
    bus = await NatsBus.connect({ servers: info.natsUrl.split(','), name, requestTimeoutMs: 900_000 });
  } catch (err) {
    // The caller gets no handle to stop what started: stop it here.
    stopStack();
    await done.catch(() => undefined);
    throw err;
  } finally {
    if (profileDir) {
      if (saved === undefined) delete process.env['NODE_OPTIONS'];
      else process.env['NODE_OPTIONS'] = saved;
    }
  }
  const send = (service, command, payload, actor = 'bench-operator') => bus.request(`patchbay.cmd.${service}.${command}`, { commandId: randomUUID(), actor, correlationId: name, payload }, { timeoutMs: 900_000 });
  return {
    info,
    bus,
    send,
    stop: async () => {
      await bus.close().catch(() => undefined);
      stopStack();
      await done.catch(() => undefined);
    },
  };
}

/**
 * The simulated fleet made ready for a cycle: its inventory imported (host keys on first use),
 * facts gathered, `bundle` applied, and group `sim` holding every endpoint that answered.
 * Returns how many answered and how long facts took (ms).
 */
export async function prepareFleet(send, { targets, keyPath, bundle }) {
  await send('inventory', 'import', { format: 'ansible-ini', fileName: 'sim-inventory.ini', content: inventoryIni(targets, keyPath), hostKeyPolicy: 'tofu' });
  const t = performance.now();
  const facts = await send('inventory', 'gather-facts', { wait: true, refresh: true });
  const factsMs = performance.now() - t;
  const answered = (facts?.outcomes ?? []).filter((o) => o.ok).length;
  await send('policy', 'bundle.apply', { files: [{ name: 'sim.yaml', content: bundle }] });
  for (let i = 0; ; i++) {
    const g = await send('policy', 'group.get', { groupId: 'sim' });
    if ((g.members?.length ?? 0) >= answered) break;
    if (i > 1200) throw new Error(`group sim has ${g.members?.length ?? 0} members, expected ${answered}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { answered, factsMs };
}

/** Rows of the events stored in a cycle's streams (`cycle-<id>` and `run-<id>.*`), in global order. */
const cycleRows = (dataDir, cycleId, columns) =>
  withStore(dataDir, (db) =>
    db.prepare(`SELECT ${columns} FROM events WHERE stream = ? OR stream LIKE ? ESCAPE '\\' ORDER BY position`).all(`cycle-${cycleId}`, `run-${cycleId.replace(/[\\%_]/g, (c) => `\\${c}`)}.%`),
  );

/** Global positions of the events stored in a cycle's streams, ascending. */
export const cyclePositions = (dataDir, cycleId) => cycleRows(dataDir, cycleId, 'position').map((r) => Number(r.position));

/** The cycle's events as stored, in global order: what a subscriber of the cycle receives, `data` kept as its stored JSON text. */
export const cycleEvents = (dataDir, cycleId) =>
  cycleRows(dataDir, cycleId, 'position, stream, revision, event_id, type, data, actor, recorded_at').map((r) => ({ position: String(r.position), stream: r.stream, revision: Number(r.revision), eventId: r.event_id, type: r.type, data: r.data, actor: r.actor, recordedAt: r.recorded_at }));

/** The type of the cycle's terminal event in the store (CycleCompleted / CycleHalted / CycleAborted), if any yet. */
export const cycleEndOf = (dataDir, cycleId) =>
  withStore(dataDir, (db) => db.prepare("SELECT type FROM events WHERE stream = ? AND type IN ('CycleCompleted', 'CycleHalted', 'CycleAborted') LIMIT 1").get(`cycle-${cycleId}`)?.type);

/** Percentile of a sorted numeric array (nearest rank). */
export const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] : NaN);
