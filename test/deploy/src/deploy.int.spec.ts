import { after, before, describe, it } from 'node:test';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { CHART_DIR, DEPLOY_DIR, REPO_ROOT, findCompose, findHelm, findKubeValidate, run } from './repo.js';

// ------------------------------------------------------------------------------ helpers

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (line continuations joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (pending && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+([\s\S]*)$/.exec(l);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (keyword === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(f, `unparsable FROM: ${args}`);
      stages.push({ base: f[1]!, name: f[2], instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ keyword, args });
    }
  }
  return stages;
}

/** A registry host is a first path component with a dot or a port, or `localhost`. */
function hasRegistryHost(image: string): boolean {
  const first = image.split('/')[0]!;
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
}

/** Pinned by tag: a tag other than `latest` (digests count too). */
function isPinned(image: string): boolean {
  if (image.includes('@sha256:')) return true;
  const last = image.split('/').at(-1)!;
  const tag = last.includes(':') ? last.split(':')[1]! : '';
  return tag !== '' && tag !== 'latest';
}

/** Lines of the configuration reference's variable table. */
function documentedVariables(): Set<string> {
  const text = readFileSync(join(DEPLOY_DIR, 'CONFIGURATION.md'), 'utf8');
  return new Set([...text.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`/gm)].map((m) => m[1]!));
}

type Json = Record<string, unknown>;
const PATCHBAY_TARGETS = ['inventory', 'policy', 'planner', 'executor', 'relay', 'gateway'] as const;
const MAINS: Record<(typeof PATCHBAY_TARGETS)[number], string> = {
  inventory: 'services/inventory/dist/main.js',
  policy: 'services/policy/dist/main.js',
  planner: 'services/planner/dist/main.js',
  executor: 'services/executor/dist/main.js',
  relay: 'libs/messaging/dist/relay-main.js',
  gateway: 'gateway/dist/main.js',
};
/** dist/x.js of a main must come from src/x.ts: the command names a file the build produces. */
const sourceOf = (distPath: string): string => join(REPO_ROOT, distPath.replace('/dist/', '/src/').replace(/\.js$/, '.ts'));

// ------------------------------------------------------------------------------ Dockerfile

describe('deploy/Dockerfile', () => {
  const stages = parseDockerfile(readFileSync(join(DEPLOY_DIR, 'Dockerfile'), 'utf8'));
  const byName = new Map(stages.map((s) => [s.name, s]));
  const argDefaults = new Map<string, string>();
  for (const m of readFileSync(join(DEPLOY_DIR, 'Dockerfile'), 'utf8').matchAll(/^ARG\s+(\w+)=(\S+)/gm)) argDefaults.set(m[1]!, m[2]!);
  const expand = (s: string): string => s.replace(/\$\{(\w+)\}/g, (_, k: string) => argDefaults.get(k) ?? `\${${k}}`);

  it('is multi-stage: a build stage, a runtime stage and one target per process', () => {
    assert.ok(stages.length >= 3, `expected several stages, got ${stages.length}`);
    assert.ok(byName.has('build') && byName.has('runtime'), 'build and runtime stages');
    for (const t of PATCHBAY_TARGETS) assert.ok(byName.has(t), `target ${t}`);
  });

  it('pins every external base image by tag, with no registry host, on the Node major the workspace pins', () => {
    const pinnedNode = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).devDependencies.node as string;
    const internal = new Set(stages.map((s) => s.name).filter(Boolean));
    for (const s of stages) {
      if (internal.has(s.base)) continue;
      const image = expand(s.base);
      assert.ok(isPinned(image), `${image} is not pinned by tag`);
      assert.ok(!hasRegistryHost(image), `${image} names a registry host`);
      assert.match(image, new RegExp(`^node:${pinnedNode.replace(/\./g, '\\.')}-`), `${image} should be the pinned Node ${pinnedNode}`);
    }
  });

  it('runs as a non-root user and declares the data dir as a volume', () => {
    const runtime = byName.get('runtime')!;
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1);
    assert.ok(user, 'runtime stage sets USER');
    assert.ok(!/^(root|0)(:|$)/.test(user.args), `USER ${user.args} is root`);
    assert.ok(runtime.instructions.some((i) => i.keyword === 'VOLUME' && i.args.includes('/var/lib/patchbay')));
    for (const s of stages.filter((st) => st.base === 'runtime')) {
      assert.ok(!s.instructions.some((i) => i.keyword === 'USER'), `target ${s.name} must not switch user again`);
    }
  });

  it('gives every process target a HEALTHCHECK and a CMD starting a file the build produces', () => {
    for (const t of PATCHBAY_TARGETS) {
      const stage = byName.get(t)!;
      assert.equal(stage.base, 'runtime', `${t} builds on runtime`);
      const hc = stage.instructions.find((i) => i.keyword === 'HEALTHCHECK');
      assert.ok(hc && /CMD\s+\[.*deploy\/healthcheck\.mjs/.test(hc.args), `${t} HEALTHCHECK uses deploy/healthcheck.mjs`);
      const cmd = stage.instructions.find((i) => i.keyword === 'CMD');
      assert.ok(cmd, `${t} has a CMD`);
      const argv = JSON.parse(cmd.args) as string[];
      assert.equal(argv[0], 'node');
      assert.equal(argv[1], MAINS[t]);
      assert.ok(existsSync(sourceOf(argv[1]!)), `${sourceOf(argv[1]!)} exists`);
    }
  });

  it('builds with npm ci and npm run build, checks the ssh2 binding, and prunes dev dependencies', () => {
    const runs = byName
      .get('build')!
      .instructions.filter((i) => i.keyword === 'RUN')
      .map((i) => i.args)
      .join('\n');
    assert.match(runs, /npm ci/);
    assert.match(runs, /npm run build/);
    assert.match(runs, /bindingAvailable/);
    assert.match(runs, /npm prune --omit=dev/);
    // The gateway serves the console from gateway/console/dist (DEFAULT_CONSOLE_DIR): the image carries it there.
    assert.match(runs, /cp -a gateway\/console\/dist \/out\/gateway\/console\//);
  });

  it('keeps secrets and build output out of the build context', () => {
    const ignore = readFileSync(join(DEPLOY_DIR, 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const p of ['**/node_modules', '**/dist', '.git', 'deploy/secrets', '**/.env']) assert.ok(ignore.includes(p), `ignores ${p}`);
  });
});

// ------------------------------------------------------------------------------ compose

describe('deploy/compose.yaml', () => {
  const text = readFileSync(join(DEPLOY_DIR, 'compose.yaml'), 'utf8');
  const compose = parse(text, { merge: true }) as Json;
  const services = compose['services'] as Record<string, Json>;
  const builtFromRepo = Object.entries(services).filter(([, s]) => s['build']);
  // Third-party images that start as root inside their container; each is named here with its
  // reason in compose.yaml, so a new root service fails this test.
  const rootAllowed = new Set(['nats-1', 'nats-2', 'nats-3', 'kurrentdb']);

  it('has the whole topology: three NATS nodes, KurrentDB, MongoDB, every process, one relay, two executors, two gateways', () => {
    for (const name of ['nats-1', 'nats-2', 'nats-3', 'kurrentdb', 'mongodb', 'inventory', 'policy', 'planner', 'relay', 'gateway'])
      assert.ok(services[name], `service ${name}`);
    const executors = Object.keys(services).filter((n) => /^executor/.test(n));
    assert.ok(executors.length >= 2, 'two executors');
    const ids = executors.map((n) => (services[n]!['environment'] as Json)['PATCHBAY_EXECUTOR_ID']);
    assert.equal(new Set(ids).size, executors.length, `executor ids are distinct: ${ids.join(', ')}`);
    assert.equal((services['gateway']!['deploy'] as Json)['replicas'] as number, 2);
    const relays = Object.values(services).filter((s) => JSON.stringify(s['command'] ?? '').includes('relay-main.js'));
    assert.equal(relays.length, 1, 'exactly one relay');
    assert.ok(!(services['relay']!['deploy'] as Json | undefined)?.['replicas'], 'the relay is not replicated');
  });

  it('gives every service an image or build, a restart policy, a healthcheck, and no registry host', () => {
    for (const [name, s] of Object.entries(services)) {
      assert.ok(s['image'] || s['build'], `${name}: image or build`);
      assert.ok(['always', 'unless-stopped', 'on-failure'].includes(s['restart'] as string), `${name}: restart policy`);
      const hc = s['healthcheck'] as Json | undefined;
      assert.ok(hc && Array.isArray(hc['test']) && (hc['test'] as string[]).length > 1, `${name}: healthcheck`);
      const image = s['image'] as string | undefined;
      if (image) {
        assert.ok(!hasRegistryHost(image), `${name}: ${image} names a registry host`);
        if (!s['build']) assert.ok(isPinned(image), `${name}: ${image} is pinned by tag`);
      }
    }
  });

  it('runs every Patchbay process as a non-root user on a read-only root filesystem, with the command its target runs', () => {
    for (const [name, s] of builtFromRepo) {
      assert.equal((s['build'] as Json)['dockerfile'], 'deploy/Dockerfile', name);
      assert.ok(s['user'] && !/^(0|root)(:|$)/.test(String(s['user'])), `${name}: non-root user`);
      assert.equal(s['read_only'], true, `${name}: read_only`);
      const target = (s['build'] as Json)['target'] as (typeof PATCHBAY_TARGETS)[number];
      assert.ok(PATCHBAY_TARGETS.includes(target), `${name}: target ${target}`);
      assert.equal((s['command'] as string[])[1], MAINS[target], `${name}: command`);
    }
    for (const [name, s] of Object.entries(services)) {
      if (s['build'] || rootAllowed.has(name)) continue;
      assert.ok(s['user'] && !/^(0|root)(:|$)/.test(String(s['user'])), `${name}: non-root user`);
    }
  });

  it('starts each process only after what it needs is healthy', () => {
    for (const [name, s] of builtFromRepo) {
      const deps = s['depends_on'] as Record<string, { condition: string }>;
      assert.ok(deps, `${name}: depends_on`);
      for (const needed of ['nats-1', 'nats-2', 'nats-3', 'kurrentdb']) assert.equal(deps[needed]?.condition, 'service_healthy', `${name} waits for ${needed}`);
      for (const [dep, d] of Object.entries(deps)) {
        assert.ok(services[dep], `${name} depends on unknown ${dep}`);
        assert.equal(d.condition, 'service_healthy', `${name} -> ${dep}`);
      }
    }
  });

  it('passes the configuration the processes read, with every NATS node and the relay on R3 streams', () => {
    const documented = documentedVariables();
    for (const [name, s] of builtFromRepo) {
      const env = s['environment'] as Record<string, string>;
      for (const v of ['NATS_URL', 'EVENTSTORE_URL', 'PATCHBAY_DATA_DIR', 'LOG_LEVEL']) assert.ok(documented.has(v) && env[v] !== undefined, `${name}: ${v}`);
      assert.equal(env['NATS_URL'], 'nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222');
    }
    assert.deepEqual((services['relay']!['command'] as string[]).slice(-2), ['--replicas', '3']);
  });

  it('has an .env.example for every variable the file requires', () => {
    const required = new Set([...text.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!));
    const example = readFileSync(join(DEPLOY_DIR, '.env.example'), 'utf8');
    const given = new Set([...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
    assert.ok(required.size > 0);
    for (const v of required) assert.ok(given.has(v), `.env.example sets ${v}`);
  });

  it('is accepted by compose itself (`config`), when a compose implementation is installed', (t) => {
    const compose = findCompose();
    if (!compose) {
      t.skip('neither `docker compose` nor `docker-compose` is installed (apt-get install -y docker-compose)');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-compose-'));
    try {
      let file = join(DEPLOY_DIR, 'compose.yaml');
      if (compose.legacy) {
        // docker-compose 1.x validates against an older schema without the top-level `name`;
        // everything else is checked as written.
        file = join(dir, 'compose.yaml');
        writeFileSync(file, text.replace(/^name:.*\n/m, ''));
      }
      const r = run([...compose.argv, '--project-directory', DEPLOY_DIR, '-f', file, '--env-file', join(DEPLOY_DIR, '.env.example'), 'config'], {
        cwd: DEPLOY_DIR,
      });
      assert.equal(r.status, 0, `compose config failed:\n${r.stderr}`);
      const resolved = parse(r.stdout) as Json;
      const names = Object.keys(resolved['services'] as Json);
      assert.deepEqual(names.sort(), Object.keys(services).sort());
      // The anchors and merges resolve to the same environment compose itself computes.
      const executorEnv = (resolved['services'] as Record<string, Json>)['executor-2']!['environment'] as Record<string, string>;
      assert.equal(executorEnv['PATCHBAY_EXECUTOR_ID'], 'executor-2');
      assert.match(executorEnv['MONGODB_URL']!, /^mongodb:\/\/patchbay:/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------------------ Helm chart

describe('deploy/helm/patchbay', () => {
  const helm = findHelm();
  const work = mkdtempSync(join(tmpdir(), 'patchbay-helm-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  const render = (args: string[]): Array<Json> => {
    const r = run([helm!, 'template', 'pb', CHART_DIR, '--namespace', 'patchbay', ...args]);
    assert.equal(r.status, 0, `helm template failed:\n${r.stderr}`);
    return parseAllDocuments(r.stdout)
      .map((d) => {
        assert.equal(d.errors.length, 0, `rendered YAML does not parse: ${d.errors.map((e) => e.message).join('; ')}`);
        return d.toJS() as Json | null;
      })
      .filter((d): d is Json => d !== null);
  };
  const find = (docs: Json[], kind: string, name: string): Json | undefined => docs.find((d) => d['kind'] === kind && (d['metadata'] as Json)['name'] === name);
  const podSpec = (workload: Json): Json => ((workload['spec'] as Json)['template'] as Json)['spec'] as Json;
  const container = (workload: Json): Json => (podSpec(workload)['containers'] as Json[])[0]!;

  before(() => {
    if (!helm) console.log('# helm not found: run deploy/scripts/build-helm.sh (or set HELM_BIN); the chart tests are skipped');
  });

  it('passes helm lint --strict', (t) => {
    if (!helm) return t.skip('helm not found (deploy/scripts/build-helm.sh builds it)');
    const r = run([helm, 'lint', '--strict', CHART_DIR]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('renders, with default values, every workload with probes, resource limits and a non-root, read-only container', (t) => {
    if (!helm) return t.skip('helm not found (deploy/scripts/build-helm.sh builds it)');
    const docs = render([]);
    const workloads: Array<[string, string, string]> = [
      ['Deployment', 'pb-patchbay-inventory', 'services/inventory/dist/main.js'],
      ['Deployment', 'pb-patchbay-policy', 'services/policy/dist/main.js'],
      ['Deployment', 'pb-patchbay-planner', 'services/planner/dist/main.js'],
      ['Deployment', 'pb-patchbay-relay', 'libs/messaging/dist/relay-main.js'],
      ['Deployment', 'pb-patchbay-gateway', 'gateway/dist/main.js'],
      ['StatefulSet', 'pb-patchbay-executor', 'services/executor/dist/main.js'],
    ];
    for (const [kind, name, main] of workloads) {
      const w = find(docs, kind, name);
      assert.ok(w, `${kind} ${name}`);
      const c = container(w);
      assert.equal((c['command'] as string[])[1], main, `${name} command`);
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.ok(c[probe], `${name}: ${probe}`);
      const limits = (c['resources'] as Json)['limits'] as Json;
      assert.ok(limits && limits['cpu'] && limits['memory'], `${name}: cpu and memory limits`);
      assert.equal((podSpec(w)['securityContext'] as Json)['runAsNonRoot'], true, `${name}: runAsNonRoot`);
      assert.equal((c['securityContext'] as Json)['readOnlyRootFilesystem'], true, `${name}: read-only root`);
      const env = c['env'] as Json[];
      const es = env.find((e) => e['name'] === 'EVENTSTORE_URL');
      assert.ok(es && (es['valueFrom'] as Json)['secretKeyRef'], `${name}: EVENTSTORE_URL from a Secret`);
    }
    const relay = find(docs, 'Deployment', 'pb-patchbay-relay')!;
    assert.equal((relay['spec'] as Json)['replicas'], 1);
    assert.equal(((relay['spec'] as Json)['strategy'] as Json)['type'], 'Recreate');
    const executor = find(docs, 'StatefulSet', 'pb-patchbay-executor')!;
    assert.equal((executor['spec'] as Json)['replicas'], 2);
    const idEnv = (container(executor)['env'] as Json[]).find((e) => e['name'] === 'PATCHBAY_EXECUTOR_ID')!;
    assert.equal(((idEnv['valueFrom'] as Json)['fieldRef'] as Json)['fieldPath'], 'metadata.name');
    assert.equal((find(docs, 'Deployment', 'pb-patchbay-gateway')!['spec'] as Json)['replicas'], 2);
    assert.ok(find(docs, 'Service', 'pb-patchbay-gateway'));
    assert.ok(find(docs, 'ConfigMap', 'pb-patchbay-config'));
    assert.ok(find(docs, 'ServiceAccount', 'pb-patchbay'));
    assert.ok(find(docs, 'PodDisruptionBudget', 'pb-patchbay-gateway'));
    assert.ok(find(docs, 'PodDisruptionBudget', 'pb-patchbay-executor'));
    assert.ok(!find(docs, 'PodDisruptionBudget', 'pb-patchbay-relay'), 'no budget on a single replica');
    assert.ok(!docs.some((d) => d['kind'] === 'Secret'), 'no Secret unless asked');
    assert.ok(!docs.some((d) => d['kind'] === 'Ingress'), 'no Ingress unless asked');
  });

  it('renders overridden values: created Secret, Ingress, replica counts, and still exactly one relay', (t) => {
    if (!helm) return t.skip('helm not found (deploy/scripts/build-helm.sh builds it)');
    const values = join(work, 'values.yaml');
    writeFileSync(
      values,
      [
        'secrets:',
        '  create: true',
        '  name: pb-secrets',
        '  values:',
        '    EVENTSTORE_URL: kurrentdb://kurrentdb:2113?tls=false',
        '  sshKey: { enabled: false }',
        'gateway:',
        '  replicas: 1',
        '  ingress: { enabled: true, className: nginx, tls: [{ secretName: pb-tls, hosts: [pb.example.com] }], hosts: [{ host: pb.example.com, paths: [{ path: /graphql, pathType: Prefix }] }] }',
        'executor: { replicas: 3 }',
        'relay: { replicas: 4 }',
        'image: { repository: registry.invalid/patchbay, tag: "9.9.9" }',
      ].join('\n'),
    );
    const docs = render(['-f', values]);
    const secret = find(docs, 'Secret', 'pb-secrets');
    assert.ok(secret, 'the chart creates the Secret');
    assert.equal((secret['stringData'] as Json)['EVENTSTORE_URL'], 'kurrentdb://kurrentdb:2113?tls=false');
    const ingress = find(docs, 'Ingress', 'pb-patchbay-gateway');
    assert.ok(ingress);
    assert.equal((ingress['spec'] as Json)['ingressClassName'], 'nginx');
    assert.equal((find(docs, 'StatefulSet', 'pb-patchbay-executor')!['spec'] as Json)['replicas'], 3);
    assert.equal((find(docs, 'Deployment', 'pb-patchbay-relay')!['spec'] as Json)['replicas'], 1, 'relay replicas cannot be raised');
    assert.ok(!find(docs, 'PodDisruptionBudget', 'pb-patchbay-gateway'), 'no budget for one gateway');
    const gw = find(docs, 'Deployment', 'pb-patchbay-gateway')!;
    assert.equal(container(gw)['image'], 'registry.invalid/patchbay:9.9.9');
    assert.ok(!podSpec(gw)['affinity'], 'a single gateway needs no co-location');
    const executor = find(docs, 'StatefulSet', 'pb-patchbay-executor')!;
    assert.ok(!(container(executor)['env'] as Json[]).some((e) => e['name'] === 'PATCHBAY_EXECUTOR_DEFAULT_KEY_REF'), 'no key ref without the key');
    for (const d of docs.filter((x) => ['Deployment', 'StatefulSet'].includes(x['kind'] as string))) {
      const es = (container(d)['env'] as Json[]).find((e) => e['name'] === 'EVENTSTORE_URL')!;
      assert.equal(((es['valueFrom'] as Json)['secretKeyRef'] as Json)['name'], 'pb-secrets');
    }
  });

  it('co-locates several gateways sharing one ReadWriteOnce data volume', (t) => {
    if (!helm) return t.skip('helm not found (deploy/scripts/build-helm.sh builds it)');
    const gw = find(render([]), 'Deployment', 'pb-patchbay-gateway')!;
    const affinity = podSpec(gw)['affinity'] as Json;
    assert.ok(affinity && (affinity['podAffinity'] as Json)['requiredDuringSchedulingIgnoredDuringExecution']);
  });

  it('renders only objects that decode strictly into the Kubernetes API types, with default and overridden values', (t) => {
    if (!helm) return t.skip('helm not found (deploy/scripts/build-helm.sh builds it)');
    const validator = findKubeValidate();
    if (!validator) return t.skip('kube-validate not built (deploy/scripts/build-kube-validate.sh)');
    const overrides = join(work, 'strict-values.yaml');
    writeFileSync(
      overrides,
      [
        'secrets: { create: true, values: { EVENTSTORE_URL: kurrentdb://k:2113 } }',
        'gateway: { ingress: { enabled: true, tls: [{ secretName: t, hosts: [a.example.com] }] } }',
        'config: { otlpEndpoint: http://otel:4318, extraEnv: [{ name: OTEL_TRACES_EXPORTER, value: otlp }] }',
      ].join('\n'),
    );
    const argSets: string[][] = [[], ['-f', overrides]];
    for (const args of argSets) {
      const rendered = run([helm, 'template', 'pb', CHART_DIR, ...args]);
      assert.equal(rendered.status, 0, rendered.stderr);
      const r: SpawnSyncReturns<string> = spawnSync(validator, [], { input: rendered.stdout, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^\d+ valid, 0 invalid$/m);
    }
    // The same check fails on a field Kubernetes does not know.
    const broken: SpawnSyncReturns<string> = spawnSync(validator, [], {
      input: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\nspec: { replica: 2 }\n',
      encoding: 'utf8',
    });
    assert.equal(broken.status, 1);
    assert.match(broken.stdout, /unknown field "spec\.replica"/);
  });

  it('refuses a created Secret without EVENTSTORE_URL, naming the value', (t) => {
    if (!helm) return t.skip('helm not found (deploy/scripts/build-helm.sh builds it)');
    const r = run([helm, 'template', 'pb', CHART_DIR, '--set', 'secrets.create=true']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /secrets\.values\.EVENTSTORE_URL/);
  });
});
