// A real patch cycle against Ansible and against the floor (the bare ssh2 driver), on real lab
// hosts. For each fleet size and repetition, three fresh labs (same scenario: every host upgrades
// the scenario's small packages from the local repository, one of which requests a reboot) run
// the same workflow: check disk, stop the app, upgrade, reboot if required (new boot id), start
// the app, validate that it answers.
//   1. Patchbay: one cycle (auto approval, no canary, one wave, maxConcurrency = N, no disruption
//      budget); wall time from the cycle request to CycleCompleted as seen on the bus; CPU of the
//      stack's processes (inventory, policy, planner, executor, relay, gateway; nats-server apart).
//   2. Ansible: bench/ansible/patch.yml with forks = N, pipelining, ControlPersist.
//   3. Floor: libs/fleet-lab/dist/driver/main.js --fleet hosts, concurrency N, in a child process.
// Needs root. Build first: npx tsc -b libs/cli libs/fleet-lab
//   ./node_modules/.bin/node bench/cycle-vs-ansible.mjs [--sizes 5,20] [--runs 3] [--only floor,patchbay,ansible]
//     [--profile <dir>] [--patchbay-data <dir>] [--keep]
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { up } from '@patchbay/cli';
import { bundleYaml, DEFAULT_SCENARIO, Lab, labInventoryIni, labPolicyYaml, labWorkflowYaml } from '@patchbay/fleet-lab';
import { decodeEvent, NatsBus } from '@patchbay/messaging';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args[i + 1];
};
const SIZES = opt('--sizes', '5,20').split(',').map(Number);
const RUNS = Number(opt('--runs', '3'));
const ONLY = new Set(opt('--only', 'floor,patchbay,ansible').split(','));
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const APP = DEFAULT_SCENARIO.app;
const TICK = 100; // clock ticks per second of /proc/<pid>/stat on Linux
if (process.getuid?.() !== 0) throw new Error('needs root (the lab uses namespaces and overlay mounts)');

const work = mkdtempSync(join(tmpdir(), 'pb-cycle-bench-'));
const quiet = [];
const log = (l) => quiet.push(l);
const say = (l) => process.stdout.write(`${l}\n`);

/** utime+stime (and those of waited-for children) of a process, in seconds. */
function cpuOf(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    // fields after the comm: state=0 ... utime=11 stime=12 cutime=13 cstime=14
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
  } catch {
    return NaN;
  }
}
const childrenOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const commOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

let labSeq = 0;
async function withLab(n, fn) {
  const stateDir = join(work, `lab-${++labSeq}`);
  const lab = await Lab.up({ hosts: n, scenario: DEFAULT_SCENARIO, stateDir, log });
  try {
    const keyPath = join(work, `lab-${labSeq}-key`);
    writeFileSync(keyPath, await lab.clientPrivateKey());
    chmodSync(keyPath, 0o600);
    const bootBefore = await Promise.all(lab.hosts.map((h) => h.bootId()));
    const r = await fn(lab, keyPath, labSeq);
    // Not timed: every host must end with the new versions, a new boot and its app answering.
    const problems = await verify(lab, bootBefore);
    if (problems.length) {
      r.ok = false;
      r.detail += `; END STATE WRONG: ${problems.slice(0, 5).join('; ')}`;
    } else r.detail += '; end state verified (new versions, new boot id, app answers)';
    return r;
  } finally {
    await lab.down().catch((e) => say(`  lab down failed: ${e.message}`));
  }
}

async function verify(lab, bootBefore) {
  const want = new Map(DEFAULT_SCENARIO.packages.map((p) => [p.name, p.available]));
  const problems = [];
  await Promise.all(
    lab.hosts.map(async (h, i) => {
      try {
        if ((await h.bootId()) === bootBefore[i]) problems.push(`${h.name}: not rebooted`);
        const q = await h.exec(['dpkg-query', '-W', '-f', '${Package} ${Version}\\n', ...want.keys()]);
        for (const line of q.stdout.trim().split('\n')) {
          const [name, version] = line.split(' ');
          if (want.get(name) !== version) problems.push(`${h.name}: ${name} ${version}`);
        }
        const res = await fetch(h.appUrl, { signal: AbortSignal.timeout(5000) });
        if (res.status !== 200) problems.push(`${h.name}: app ${res.status}`);
      } catch (e) {
        problems.push(`${h.name}: ${e.message}`);
      }
    }),
  );
  return problems;
}

function run(cmd, argv, options = {}) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', rej);
    child.on('exit', (code) => res({ code, out, err }));
  });
}

// ---------------------------------------------------------------- floor
async function floor(n) {
  return withLab(n, async (lab, keyPath, k) => {
    const targetsFile = join(work, `floor-${k}.json`);
    writeFileSync(targetsFile, JSON.stringify(lab.hosts.map((h) => ({ id: h.name, host: h.address, port: 22 }))));
    const t0 = performance.now();
    const r = await run(process.execPath, [join(ROOT, 'libs/fleet-lab/dist/driver/main.js'), '--fleet', 'hosts', '--targets', targetsFile, '--identity', keyPath, '--concurrency', String(n), '--json']);
    const outerS = (performance.now() - t0) / 1000;
    const wall = Number(/wall time: ([\d.]+) s/.exec(r.out)?.[1]);
    const cpu = Number(/controller CPU: .*= ([\d.]+) s/.exec(r.out)?.[1]);
    const outcomes = /outcomes: (.*)/.exec(r.out)?.[1] ?? r.err.trim();
    let perHost = [];
    try {
      perHost = JSON.parse(r.out.slice(r.out.indexOf('['), r.out.lastIndexOf(']') + 1)).map((o) => o.durationMs / 1000);
    } catch {
      /* printed below as missing */
    }
    const ok = r.code === 0;
    return { ok, wall, cpu, outerS, detail: outcomes, perHost };
  });
}

// ---------------------------------------------------------------- ansible
async function ansible(n) {
  return withLab(n, async (lab, keyPath, k) => {
    const dir = join(work, `ansible-${k}`);
    mkdirSync(join(dir, 'cp'), { recursive: true });
    writeFileSync(join(dir, 'inventory.ini'), ansibleInventory(lab, keyPath));
    writeFileSync(join(dir, 'ansible.cfg'), ansibleConfig(n, dir));
    const t0 = performance.now();
    const r = await run('/usr/bin/time', ['-f', 'TIME %U %S %e', 'ansible-playbook', '-i', join(dir, 'inventory.ini'), join(ROOT, 'bench/ansible/patch.yml')], {
      env: { ...process.env, ANSIBLE_CONFIG: join(dir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1' },
      cwd: dir,
    });
    const wall = (performance.now() - t0) / 1000;
    const t = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(r.err);
    const recap = r.out.slice(r.out.indexOf('PLAY RECAP'));
    const failed = [...recap.matchAll(/failed=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0) + [...recap.matchAll(/unreachable=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
    const okHosts = [...recap.matchAll(/ok=\d+/g)].length - (failed > 0 ? 1 : 0);
    // ControlPersist masters outlive the playbook: close them (the lab going down would end them too).
    for (const s of readdirSync(join(dir, 'cp'))) await run('ssh', ['-o', `ControlPath=${join(dir, 'cp', s)}`, '-O', 'exit', 'lab']).catch(() => undefined);
    const ok = r.code === 0 && failed === 0;
    if (!ok) writeFileSync(join(work, `ansible-${k}.log`), r.out + r.err);
    return { ok, wall, cpu: t ? Number(t[1]) + Number(t[2]) : NaN, detail: ok ? `${okHosts} hosts ok` : `rc ${r.code}, failed/unreachable ${failed} (log ${join(work, `ansible-${k}.log`)})` };
  });
}

function ansibleInventory(lab, keyPath) {
  return labInventoryIni(
    'lab',
    lab.hosts.map((h) => ({ name: h.name, host: h.address, port: 22 })),
    { vars: { ansible_python_interpreter: '/usr/bin/python3' }, keyPath },
  );
}

function ansibleConfig(n, dir) {
  return [
    '[defaults]',
    `forks = ${n}`,
    'host_key_checking = False',
    'gathering = explicit',
    'retry_files_enabled = False',
    'interpreter_python = /usr/bin/python3',
    '[ssh_connection]',
    'pipelining = True',
    'ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no',
    `control_path_dir = ${join(dir, 'cp')}`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------- patchbay
const WORKFLOW = labWorkflowYaml({ id: 'bench-cycle', name: 'Check disk, stop the app, upgrade, reboot if required, start the app, validate', app: APP, patchTimeoutSeconds: 600, rebootReturnSeconds: 120, rebootTimeoutSeconds: 180 });

const policyBundle = (tag, n) => bundleYaml(WORKFLOW, labPolicyYaml({ groupId: tag, groupName: `Lab hosts of measurement ${tag}`, selector: `bench=${tag}`, policyId: tag, workflowId: 'bench-cycle', maxConcurrency: n, errorThreshold: n }));

let stack;
let stackDataDir;
async function startStack() {
  // --patchbay-data /dev/shm: the event store on tmpfs (fsync costs nothing), to see what durability costs.
  const dataDir = opt('--patchbay-data', undefined) ? mkdtempSync(join(opt('--patchbay-data'), 'pb-cycle-bench-')) : join(work, 'patchbay');
  stackDataDir = dataDir;
  mkdirSync(dataDir, { recursive: true });
  process.env['PATCHBAY_ADMIN_TOKEN'] ??= `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  const profileDir = opt('--profile', undefined);
  const saved = process.env['NODE_OPTIONS'];
  // Every stack process writes a V8 CPU profile when it exits (analysed by bench/cycle/profile-window.mjs).
  if (profileDir) process.env['NODE_OPTIONS'] = `${saved ?? ''} --cpu-prof --cpu-prof-dir=${resolve(profileDir)}`.trim();
  let stop;
  const until = new Promise((r) => (stop = r));
  let ready;
  const readyP = new Promise((r) => (ready = r));
  const done = up({ dataDir, port: 0, until, onReady: ready, log });
  const failed = done.then(() => Promise.reject(new Error('the stack stopped early')));
  failed.catch(() => undefined);
  const info = await Promise.race([readyP, failed]);
  if (profileDir) {
    if (saved === undefined) delete process.env['NODE_OPTIONS'];
    else process.env['NODE_OPTIONS'] = saved;
  }
  const bus = await NatsBus.connect({ servers: info.natsUrl.split(','), name: 'patchbay-bench', requestTimeoutMs: 180_000 });
  const nats = childrenOf(process.pid).filter((p) => commOf(p) === 'nats-server');
  const events = [];
  const sub = bus.connection.subscribe('patchbay.evt.>');
  void (async () => {
    for await (const msg of sub) {
      const at = performance.now();
      try {
        events.push({ at, e: decodeEvent(msg.data) });
      } catch {
        /* not an event */
      }
    }
  })();
  const send = (service, name, payload) =>
    bus.request(`patchbay.cmd.${service}.${name}`, { commandId: randomUUID(), actor: 'bench-operator', correlationId: 'bench', payload }, { timeoutMs: 180_000 });
  stack = { pids: info.pids, nats, bus, send, events, stop: async () => { sub.unsubscribe(); await bus.close(); stop(); await done.catch(() => undefined); } };
  say(`stack: ${Object.entries(info.pids).map(([k, v]) => `${k}=${v}`).join(' ')}; nats-server=${nats.join(',')}`);
}

async function patchbay(n) {
  if (!stack) await startStack();
  return withLab(n, async (lab, keyPath, k) => {
    const tag = `m${k}`;
    const ini = labInventoryIni(
      'lab',
      lab.hosts.map((h) => ({ name: `${tag}-${h.name}`, host: h.address, port: 22 })),
      { vars: { bench: tag }, keyPath },
    );
    // The same file name every time: endpoints of the previous lab are retired by this import.
    await stack.send('inventory', 'import', { format: 'ansible-ini', fileName: 'bench-inventory.ini', content: ini, hostKeyPolicy: 'tofu' });
    const facts = await stack.send('inventory', 'gather-facts', { wait: true, refresh: true });
    const answered = (facts?.outcomes ?? []).filter((o) => o.ok).length;
    if (answered < n) throw new Error(`facts: only ${answered}/${n} endpoints answered: ${JSON.stringify(facts).slice(0, 500)}`);
    await stack.send('policy', 'bundle.apply', { files: [{ name: 'bench.yaml', content: policyBundle(tag, n) }] });
    for (let i = 0; ; i++) {
      const g = await stack.send('policy', 'group.get', { groupId: tag });
      if ((g.members?.length ?? 0) === n) break;
      if (i > 400) throw new Error(`group ${tag} has ${g.members?.length} members, expected ${n}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const pids = Object.values(stack.pids).filter(Boolean);
    const cpu0 = pids.map(cpuOf);
    const nats0 = stack.nats.map(cpuOf);
    const from = stack.events.length;
    const t0 = performance.now();
    const mono0 = process.hrtime.bigint();
    const requested = await stack.send('planner', 'cycle.request', { policyId: tag });
    const cycleId = requested.cycleId;
    let end;
    const deadline = t0 + 10 * 60_000;
    while (!end) {
      end = stack.events.slice(from).find((x) => x.e.data?.cycleId === cycleId && ['CycleCompleted', 'CycleHalted', 'CycleAborted'].includes(x.e.type));
      if (!end) {
        if (performance.now() > deadline) throw new Error(`cycle ${cycleId} did not finish in 10 min`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const wall = (end.at - t0) / 1000;
    const mono1 = process.hrtime.bigint();
    // Let the relay publish the last events, then read CPU (nothing else is running).
    const cpu1 = pids.map(cpuOf);
    const nats1 = stack.nats.map(cpuOf);
    const cpuBy = Object.fromEntries(Object.keys(stack.pids).map((name, i) => [name, cpu1[i] - cpu0[i]]));
    const cpu = Object.values(cpuBy).reduce((a, b) => a + b, 0);
    const summary = await stack.send('planner', 'cycle.get', { cycleId });
    const ok = end.e.type === 'CycleCompleted' && summary.succeeded === n;
    return {
      ok,
      wall,
      cpu,
      cpuBy,
      natsCpu: nats1.reduce((a, b) => a + b, 0) - nats0.reduce((a, b) => a + b, 0),
      detail: `${end.e.type}, ${summary.succeeded} succeeded, ${summary.failed} failed; monotonic window ${mono0 / 1000n}..${mono1 / 1000n} us`,
      timeline: timeline(stack.events.slice(from).filter((x) => x.e.data?.cycleId === cycleId || x.e.metadata?.stream?.includes(cycleId)), t0, end.at),
    };
  });
}

/** Where a cycle's time went, from its events as they arrived on the bus (seconds after the request). */
function timeline(evs, t0, tEnd) {
  const s = (at) => (at - t0) / 1000;
  const first = (type) => evs.find((x) => x.e.type === type);
  const byEp = new Map();
  const steps = new Map();
  const lag = [];
  for (const x of evs) {
    const d = x.e.data ?? {};
    const recorded = Date.parse(x.e.metadata?.recordedAt ?? x.e.recordedAt ?? '');
    if (Number.isFinite(recorded)) lag.push(Date.now() - (performance.now() - x.at) - recorded);
    const ep = d.endpointId;
    if (!ep) continue;
    const r = byEp.get(ep) ?? byEp.set(ep, {}).get(ep);
    if (x.e.type === 'EndpointReleased') r.released = s(x.at);
    if (x.e.type === 'RunStarted') r.started = s(x.at);
    if (x.e.type === 'RunSucceeded' || x.e.type === 'RunFailed') r.finished = s(x.at);
    const step = d.stepId ?? d.stepKey;
    if (x.e.type === 'StepStarted') steps.set(`${ep}/${step}`, { step, t: s(x.at) });
    if (x.e.type === 'StepSucceeded' || x.e.type === 'StepFailed' || x.e.type === 'StepSkipped') {
      const st = steps.get(`${ep}/${step}`);
      if (st) st.d = s(x.at) - st.t;
    }
  }
  const stepMed = {};
  for (const { step, d } of steps.values()) if (d !== undefined) (stepMed[step] ??= []).push(d);
  const eps = [...byEp.values()];
  const gapsBetweenSteps = [];
  // per endpoint: time not inside any step, between RunStarted and RunSucceeded
  for (const [ep, r] of byEp) {
    const inSteps = [...steps.entries()].filter(([k]) => k.startsWith(`${ep}/`)).reduce((a, [, v]) => a + (v.d ?? 0), 0);
    if (r.started !== undefined && r.finished !== undefined) gapsBetweenSteps.push(r.finished - r.started - inSteps);
  }
  return {
    planned: first('CyclePlanned') ? s(first('CyclePlanned').at) : undefined,
    started: first('CycleStarted') ? s(first('CycleStarted').at) : undefined,
    firstReleased: Math.min(...eps.map((r) => r.released ?? Infinity)),
    lastReleased: Math.max(...eps.map((r) => r.released ?? -Infinity)),
    firstRunStarted: Math.min(...eps.map((r) => r.started ?? Infinity)),
    lastRunStarted: Math.max(...eps.map((r) => r.started ?? -Infinity)),
    runMedian: median(eps.map((r) => r.finished - r.started)),
    lastRunFinished: Math.max(...eps.map((r) => r.finished ?? -Infinity)),
    completed: s(tEnd),
    stepMedians: Object.fromEntries(Object.entries(stepMed).map(([k, v]) => [k, median(v)])),
    stepMax: Object.fromEntries(Object.entries(stepMed).map(([k, v]) => [k, Math.max(...v)])),
    outsideStepsMedian: median(gapsBetweenSteps),
    relayLagMedianMs: median(lag),
    events: evs.length,
  };
}

// ---------------------------------------------------------------- main
const results = {};
const runners = { floor, patchbay, ansible };
say(`cycle vs Ansible vs floor — ${new Date().toISOString()}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, real lab hosts (scenario ${DEFAULT_SCENARIO.name}: ${DEFAULT_SCENARIO.packages.length} packages, one requests a reboot)`);
try {
  for (let rep = 1; rep <= RUNS; rep++) {
    for (const n of SIZES) {
      for (const name of ['floor', 'patchbay', 'ansible']) {
        if (!ONLY.has(name)) continue;
        const load = loadavg()[0];
        let r;
        try {
          r = await runners[name](n);
        } catch (e) {
          r = { ok: false, wall: NaN, cpu: NaN, detail: `error: ${e.message}` };
        }
        r.load = load;
        (results[`${name}:${n}`] ??= []).push(r);
        say(`run ${rep} N=${String(n).padStart(2)} ${name.padEnd(8)} wall ${f2(r.wall)} s, CPU ${f2(r.cpu)} s${r.natsCpu !== undefined ? ` (+ nats-server ${f2(r.natsCpu)} s)` : ''}, load ${load.toFixed(1)}, ${r.ok ? 'ok' : 'NOT OK'}: ${r.detail}`);
        if (r.cpuBy) say(`    CPU by process: ${Object.entries(r.cpuBy).map(([k, v]) => `${k} ${f2(v)}`).join(', ')}`);
        if (r.timeline) say(`    timeline: ${JSON.stringify(r.timeline, (k, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v))}`);
        if (r.perHost?.length) say(`    floor per host: median ${f2(median(r.perHost))} s, max ${f2(Math.max(...r.perHost))} s; process wall (incl. node start) ${f2(r.outerS)} s`);
      }
    }
  }
} finally {
  await stack?.stop().catch((e) => say(`stack stop failed: ${e.message}`));
  say('\nsummary (median of the successful runs):');
  for (const n of SIZES) {
    const m = (name, key) => median((results[`${name}:${n}`] ?? []).filter((r) => r.ok).map((r) => r[key]));
    const cnt = (name) => `${(results[`${name}:${n}`] ?? []).filter((r) => r.ok).length}/${(results[`${name}:${n}`] ?? []).length}`;
    const [fw, pw, aw] = [m('floor', 'wall'), m('patchbay', 'wall'), m('ansible', 'wall')];
    say(`N=${n}: floor ${f2(fw)} s (CPU ${f2(m('floor', 'cpu'))} s, ${cnt('floor')} ok); Patchbay ${f2(pw)} s (CPU ${f2(m('patchbay', 'cpu'))} s + nats-server ${f2(m('patchbay', 'natsCpu'))} s, ${cnt('patchbay')} ok); Ansible ${f2(aw)} s (CPU ${f2(m('ansible', 'cpu'))} s, ${cnt('ansible')} ok)`);
    say(`      Patchbay/floor ${f2(pw / fw)} (target ≤ 1.10); Ansible/Patchbay ${f2(aw / pw)} (target ≥ 3)`);
  }
  if (!args.includes('--keep')) {
    rmSync(work, { recursive: true, force: true });
    if (stackDataDir) rmSync(stackDataDir, { recursive: true, force: true });
  }
}
