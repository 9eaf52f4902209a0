import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PatchbayError, type CycleSummary, type RecordedEvent } from '@patchbay/contracts';
import { checkLabPrerequisites, DEFAULT_SCENARIO, Lab } from '@patchbay/fleet-lab';
import { spawnSync } from 'node:child_process';
import { decodeEvent, NatsBus } from '@patchbay/messaging';
import { up } from './up.js';

export interface DemoOptions {
  hosts?: number;
  dataDir?: string;
  port?: number;
  singleProcess?: boolean;
  /** Stop everything once both cycles are done (default: keep the stack and lab up until Ctrl-C). */
  exitWhenDone?: boolean;
  log?: (line: string) => void;
}

/** The demo could not finish; the message says which stage. */
export class DemoFailedError extends PatchbayError {
  constructor(stage: string, message: string) {
    super('DEMO_FAILED', `${stage}: ${message}`, { stage });
  }
}

export interface DemoResult {
  url: string;
  cycles: CycleSummary[];
}

const OPERATOR = 'demo-operator';
const APPROVER = 'demo-approver';
const FINAL = new Set(['completed', 'halted', 'aborted']);

/**
 * The main job, end to end on the embedded default: the stack, a lab of real Debian hosts, the
 * inventory imported from an Ansible file, reference groups + a full pre/post workflow + a policy
 * applied as code, a cycle approved by a second person and run wave by wave with live progress,
 * then an emergency cycle for one package reaching only the hosts that lack it.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const log = options.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  if (process.getuid?.() !== 0) throw new DemoFailedError('preflight', 'the lab of real hosts needs root (namespaces, overlay mounts)');
  await setUpMissing(log);
  const dataDir = resolve(options.dataDir ?? '.patchbay');
  mkdirSync(dataDir, { recursive: true });
  // An admin token for the gateway, so the audit queries printed at the end can be run as shown.
  const adminToken = process.env['PATCHBAY_ADMIN_TOKEN'] ?? `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  process.env['PATCHBAY_ADMIN_TOKEN'] = adminToken;
  let stop!: () => void;
  const until = new Promise<void>((r) => (stop = r));
  let ready!: (info: { url: string; natsUrl: string }) => void;
  const readyP = new Promise<{ url: string; natsUrl: string }>((r) => (ready = r));
  const stack = up({ dataDir, port: options.port ?? 0, singleProcess: options.singleProcess, until, onReady: ready, log });
  const stackFailed = stack.then(() => Promise.reject(new DemoFailedError('stack', 'stopped early')));
  stackFailed.catch(() => undefined);
  let lab: Lab | undefined;
  let bus: NatsBus | undefined;
  try {
    const { url, natsUrl } = await Promise.race([readyP, stackFailed]);
    const hosts = options.hosts ?? 5;
    log(`\n▶ lab: bringing up ${hosts} real Debian hosts`);
    lab = await Lab.up({ hosts, scenario: DEFAULT_SCENARIO, stateDir: join(dataDir, 'lab') });
    log(`  ${lab.hosts.map((h) => `${h.name} ${h.address}`).join(', ')} (${lab.upSeconds?.toFixed(1)} s)`);
    const keyPath = join(dataDir, 'lab-client-key');
    writeFileSync(keyPath, await lab.clientPrivateKey());
    chmodSync(keyPath, 0o600);

    bus = await NatsBus.connect({ servers: natsUrl.split(','), name: 'patchbay-demo', requestTimeoutMs: 120_000 });
    const send = <T>(service: string, name: string, payload: unknown, actor = OPERATOR): Promise<T> =>
      bus!.request<T>(`patchbay.cmd.${service}.${name}`, { commandId: randomUUID(), actor, correlationId: 'demo', payload }, { timeoutMs: 180_000 });
    const progress = followEvents(bus, log);

    log('\n▶ inventory: importing the lab as an Ansible INI inventory (host keys: trust on first use, recorded)');
    const ini = inventoryIni(lab, keyPath);
    writeFileSync(join(dataDir, 'demo-inventory.ini'), ini);
    const imported = await send<{ summary: Record<string, number> }>('inventory', 'import', { format: 'ansible-ini', fileName: 'demo-inventory.ini', content: ini, hostKeyPolicy: 'tofu' });
    log(`  ${JSON.stringify(imported.summary)}`);
    let facts = await send<FactsReply>('inventory', 'gather-facts', { wait: true, refresh: true });
    // A second demo on the same data dir meets lab hosts made again, with new host keys, while the
    // inventory still holds the keys pinned by the first: refused, as they must be. The demo then
    // does what an operator would, recorded as such: it accepts the key it read from the host's own
    // disk (the out-of-band check) for each host that presented exactly that key, and gathers again.
    const rejected = (facts.outcomes ?? []).filter((o) => !o.ok && o.code === 'HOST_KEY_REJECTED').map((o) => o.endpointId);
    if (rejected.length > 0) {
      for (const h of lab.hosts.filter((x) => rejected.includes(x.name))) {
        const { fingerprint } = await h.hostKey();
        await send('inventory', 'accept-host-key', { endpointId: h.name, fingerprint, reason: 'lab host made again by the demo; key read from its disk' });
      }
      log(`  host keys of ${rejected.join(', ')} changed since the last demo (lab hosts made again): accepted the keys read from their disks`);
      facts = await send<FactsReply>('inventory', 'gather-facts', { wait: true, refresh: true });
    }
    log(`  facts: ${summariseFacts(facts)}`);

    log('\n▶ policy: applying reference groups, the workflow and the policy as code (libs/cli/demo/fleet.yaml)');
    const bundle = readFileSync(resolve(__dirname, '../demo/fleet.yaml'), 'utf8');
    const applied = await send<{ eventsAppended: number }>('policy', 'bundle.apply', { files: [{ name: 'fleet.yaml', content: bundle }] });
    log(`  ${applied.eventsAppended} events appended`);
    await waitFor('group membership', async () => {
      const g = await send<{ members?: unknown[] }>('policy', 'group.get', { groupId: 'demo-db' });
      return (g.members?.length ?? 0) > 0;
    });

    log('\n▶ planner: preview (dry run)');
    const preview = await send<{ text?: string; planHash: string }>('planner', 'cycle.preview', { policyId: 'demo-all' });
    log(preview.text ?? `plan ${preview.planHash}`);

    const cycles: CycleSummary[] = [];
    log(`\n▶ cycle: requested by ${OPERATOR}, approved by ${APPROVER} (the requester may not approve)`);
    const requested = await send<CycleSummary>('planner', 'cycle.request', { policyId: 'demo-all' });
    progress.watch(requested.cycleId);
    if (requested.status === 'awaiting-approval') await send('planner', 'cycle.approve', { cycleId: requested.cycleId, comment: 'demo' }, APPROVER);
    cycles.push(await waitCycle(send, requested.cycleId, log));

    log('\n▶ emergency: a new security update of pb-openssl-demo is published; only hosts lacking it are patched');
    await lab.publish({ ...DEFAULT_SCENARIO.packages[0]!, installed: undefined, available: '1.0.2-1', classification: 'security', severity: 'critical', rebootRequired: true, postinstFails: false, sizeMb: 0 });
    // One host already got the fix by hand: the emergency must leave it alone.
    const [alreadyFixed] = lab.hosts;
    await alreadyFixed!.exec(['sh', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pb-openssl-demo >/dev/null']);
    log(`  ${alreadyFixed!.name} was fixed by hand beforehand`);
    await send('inventory', 'gather-facts', { wait: true, refresh: true });
    const emergency = await send<CycleSummary>('planner', 'cycle.emergency', {
      policyId: 'demo-all',
      emergency: { advisoryId: 'CVE-2026-0001', title: 'demo zero-day in pb-openssl-demo', packages: ['pb-openssl-demo'], target: { kind: 'vulnerable' } },
    });
    progress.watch(emergency.cycleId);
    if (emergency.status === 'awaiting-approval') await send('planner', 'cycle.approve', { cycleId: emergency.cycleId, comment: 'zero-day' }, APPROVER);
    cycles.push(await waitCycle(send, emergency.cycleId, log));
    progress.stop();

    log('\n▶ where to look');
    log(`  GraphQL:  ${url}`);
    log(`  console:  ${new URL('/', url).href}  (sign in with the admin token: ${adminToken})`);
    for (const c of cycles) log(`  cycle ${c.cycleId}: ${c.status}, ${c.succeeded} succeeded, ${c.failed} failed, plan ${c.planHash?.slice(0, 12)}`);
    log(`  audit:    export PATCHBAY_URL=${url} PATCHBAY_TOKEN=${adminToken}`);
    log(`            npm run patchbay -- audit history ${cycles[0]!.cycleId}     # the cycle's full history, in order`);
    log(`            npm run patchbay -- audit verify ${cycles[0]!.cycleId}      # every hash chain it touches`);
    log(`            npm run patchbay -- audit export ${cycles[0]!.cycleId} --format jsonl -o cycle.jsonl`);
    log(`  events:   ${join(dataDir, 'events.db')} (SQLite; every step of every cycle, hash-chained)`);
    if (!options.exitWhenDone) {
      log('\nThe stack and the lab stay up; Ctrl-C stops both.');
      await new Promise<void>((r) => {
        process.once('SIGINT', () => r());
        process.once('SIGTERM', () => r());
      });
    }
    return { url, cycles };
  } finally {
    await bus?.close().catch(() => undefined);
    await lab?.down().catch((err: Error) => log(`lab down failed: ${err.message}`));
    stop();
    await stack.catch(() => undefined);
  }
}

/** What the demo needs on the machine: program → Debian package (fixed names, nothing from input). */
const DEMO_PROGRAMS: Array<[string, string]> = [
  ['nats-server', 'nats-server'],
  ['debootstrap', 'debootstrap'],
  ['dpkg-scanpackages', 'dpkg-dev'],
  ['apt-ftparchive', 'apt-utils'],
  ['ip', 'iproute2'],
  ['unshare', 'util-linux'],
];

/** Installs the Debian packages the demo needs when they are missing (the demo runs as root). */
async function setUpMissing(log: (l: string) => void): Promise<void> {
  try {
    await checkLabPrerequisites(DEMO_PROGRAMS);
    return;
  } catch (err) {
    const install = (err as PatchbayError).details?.['installCommand'];
    if ((err as PatchbayError).code !== 'LAB_PREREQUISITE_MISSING' || typeof install !== 'string') throw err;
    log(`▶ setting up what is missing: ${install}`);
    const r = spawnSync('sh', ['-c', install], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new DemoFailedError('preflight', `installing the prerequisites failed (${install})`);
  }
  await checkLabPrerequisites(DEMO_PROGRAMS);
}

/** An Ansible INI inventory of the lab: one canary, web hosts, database hosts (the last two). */
export function inventoryIni(lab: Lab, keyPath: string): string {
  const line = (h: Lab['hosts'][number]) => `${h.name} ansible_host=${h.address} ansible_port=22 ansible_user=root`;
  const [canary, ...rest] = lab.hosts;
  const db = rest.length >= 3 ? rest.slice(-2) : rest.slice(-1);
  const web = rest.filter((h) => !db.includes(h));
  return [
    '# generated by patchbay demo for the lab hosts',
    '[canary]',
    line(canary!),
    '[web]',
    ...web.map(line),
    '[db]',
    ...db.map(line),
    '[canary:vars]',
    'role=web',
    'cluster=web-a',
    '[web:vars]',
    'role=web',
    'cluster=web-a',
    '[db:vars]',
    'role=db',
    'cluster=db-a',
    '[all:vars]',
    'env=demo',
    `ansible_ssh_private_key_file=${keyPath}`,
    '',
  ].join('\n');
}

/** The inventory's answer to `gather-facts`: one outcome per endpoint. */
type FactsReply = { outcomes?: Array<{ endpointId: string; ok: boolean; code?: string }> };

function summariseFacts(reply: FactsReply): string {
  const rows = reply?.outcomes ?? [];
  const failed = rows.filter((r) => !r.ok).map((r) => `${r.endpointId} ${r.code}`);
  return `${rows.length - failed.length}/${rows.length} endpoints answered${failed.length ? ` (${failed.join(', ')})` : ''}`;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new DemoFailedError('wait', `${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function waitCycle(send: <T>(service: string, name: string, payload: unknown) => Promise<T>, cycleId: string, log: (l: string) => void): Promise<CycleSummary> {
  let summary: CycleSummary | undefined;
  await waitFor(
    `cycle ${cycleId} to finish`,
    async () => {
      summary = await send<CycleSummary>('planner', 'cycle.get', { cycleId });
      return FINAL.has(summary.status);
    },
    20 * 60_000,
  );
  log(`  ■ cycle ${cycleId} ${summary!.status}${summary!.haltReason ? ` (${summary!.haltReason})` : ''}: ${summary!.succeeded} succeeded, ${summary!.failed} failed, ${summary!.skipped} skipped`);
  return summary!;
}

/** Live progress: every cycle and run event of the watched cycles, as it is published on the bus. */
function followEvents(bus: NatsBus, log: (l: string) => void): { watch(cycleId: string): void; stop(): void } {
  const watched = new Set<string>();
  const started = new Map<string, number>();
  const sub = bus.connection.subscribe('patchbay.evt.>');
  void (async () => {
    for await (const msg of sub) {
      let e: RecordedEvent;
      try {
        e = decodeEvent(msg.data);
      } catch {
        continue;
      }
      const d = (e.data ?? {}) as Record<string, unknown>;
      const cycleId = typeof d['cycleId'] === 'string' ? d['cycleId'] : undefined;
      if (!cycleId || !watched.has(cycleId)) continue;
      const line = describe(e, d, started);
      if (line) log(`  ${new Date().toISOString().slice(11, 19)} ${line}`);
    }
  })();
  return { watch: (id) => watched.add(id), stop: () => sub.unsubscribe() };
}

function describe(e: RecordedEvent, d: Record<string, unknown>, started: Map<string, number>): string | undefined {
  const ep = typeof d['endpointId'] === 'string' ? d['endpointId'] : '';
  const step = typeof d['stepKey'] === 'string' ? d['stepKey'] : typeof d['stepId'] === 'string' ? d['stepId'] : '';
  const key = `${e.metadata.stream}:${step}`;
  switch (e.type) {
    case 'StepStarted':
      started.set(key, Date.now());
      return undefined;
    case 'StepSucceeded':
    case 'StepFailed':
    case 'StepSkipped': {
      const ms = started.has(key) ? ` ${((Date.now() - started.get(key)!) / 1000).toFixed(1)}s` : '';
      const mark = e.type === 'StepSucceeded' ? '✓' : e.type === 'StepFailed' ? '✗' : '–';
      return `${ep.padEnd(8)} ${mark} ${step}${ms}${e.type === 'StepFailed' && d['message'] ? `: ${String(d['message'])}` : ''}`;
    }
    case 'RebootIssued':
      return `${ep.padEnd(8)} ↻ reboot issued (boot ${String(d['bootIdBefore'] ?? '').slice(0, 8)})`;
    case 'RebootConfirmed':
      return `${ep.padEnd(8)} ↻ back with a new boot id ${String(d['bootIdAfter'] ?? '').slice(0, 8)}`;
    case 'RunSucceeded':
      return `${ep.padEnd(8)} ● done`;
    case 'RunFailed':
      return `${ep.padEnd(8)} ● FAILED at ${String(d['stepId'])}: ${String(d['code'])}`;
    case 'EndpointReleased':
      return `${ep.padEnd(8)} released (wave ${String(d['wave'])})`;
    default:
      return e.metadata.stream.startsWith('cycle-') ? `cycle: ${e.type}` : undefined;
  }
}
