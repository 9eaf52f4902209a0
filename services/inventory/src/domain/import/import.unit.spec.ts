import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InventoryFormat } from '@patchbay/contracts';
import { initialState } from '../endpoint.js';
import { inventoryToSpecs, type EndpointSpec } from './endpoint-spec.js';
import { ComplexValue, parseIniValue } from './ansible-values.js';
import { expandHostRange } from './host-pattern.js';
import { planImport } from './plan.js';

const specs = (format: InventoryFormat, text: string, opts = {}) => {
  const r = inventoryToSpecs(format, text, 'inv.file', opts);
  assert.deepEqual(r.issues, [], JSON.stringify(r.issues));
  return new Map(r.specs.map((s) => [s.endpointId, s]));
};

const INI = `# production
bastion.example.com ansible_port=2200

[web]
web[01:03].example.com ansible_user=deploy
web-extra ansible_host=10.0.0.9  role="frontend" ; not a comment in host lines but a token? no: see test

[db]
db-[a:b] ansible_become=yes

[db:vars]
role = db
tier=gold

[prod:children]
web
db

[prod:vars]
env=prod
role=generic

[all:vars]
ansible_user=patchbay
owner=ops
`;

describe('Ansible INI', () => {
  it('expands ranges as Ansible does', () => {
    assert.deepEqual(expandHostRange('web[01:03].x'), ['web01.x', 'web02.x', 'web03.x']);
    assert.deepEqual(expandHostRange('db-[a:c]'), ['db-a', 'db-b', 'db-c']);
    assert.deepEqual(expandHostRange('h[1:5:2]'), ['h1', 'h3', 'h5']);
    assert.deepEqual(expandHostRange('h[:2]'), ['h0', 'h1', 'h2']);
    assert.deepEqual(expandHostRange('r[1:2]-[a:b]'), ['r1-a', 'r1-b', 'r2-a', 'r2-b']);
    assert.equal(expandHostRange('n[1:20]').length, 20);
  });

  it('maps groups, children, vars and connection settings by Ansible precedence', () => {
    const text = INI.replace('  role="frontend" ; not a comment in host lines but a token? no: see test', ' role="frontend"');
    const m = specs('ansible-ini', text);
    assert.deepEqual([...m.keys()].sort(), ['bastion.example.com', 'db-a', 'db-b', 'web-extra', 'web01.example.com', 'web02.example.com', 'web03.example.com']);
    const bastion = m.get('bastion.example.com')!;
    assert.deepEqual(bastion.labels, { 'group.ungrouped': 'true', owner: 'ops' });
    assert.deepEqual(bastion.ssh, { host: 'bastion.example.com', port: 2200, user: 'patchbay', sudo: false });
    const web = m.get('web02.example.com')!;
    // group vars: all < prod (parent) ; host var ansible_user wins over [all:vars]
    assert.deepEqual(web.labels, { 'group.prod': 'true', 'group.web': 'true', env: 'prod', owner: 'ops', role: 'generic' });
    assert.equal(web.ssh.user, 'deploy');
    assert.deepEqual(m.get('web-extra')!.labels.role, 'frontend');
    assert.equal(m.get('web-extra')!.ssh.host, '10.0.0.9');
    const db = m.get('db-b')!;
    // child group [db:vars] beats parent [prod:vars]
    assert.equal(db.labels.role, 'db');
    assert.equal(db.labels.tier, 'gold');
    assert.equal(db.ssh.sudo, true);
  });

  it('host:port, inline comments, quoted values with spaces rejected as labels only when invalid', () => {
    const m = specs('ansible-ini', '[g]\nh1:2222 # the first\nh2 ansible_port=2022 flag=True count=3\n; comment\n');
    assert.equal(m.get('h1')!.ssh.port, 2222);
    assert.equal(m.get('h2')!.ssh.port, 2022);
    assert.deepEqual(m.get('h2')!.labels, { 'group.g': 'true', count: '3', flag: 'true' });
  });

  it('a group declared after it is used in children is fine; key files become file: references; secrets are dropped', () => {
    const m = specs('ansible-ini', '[parent:children]\nkid\n[kid]\nk1 ansible_ssh_private_key_file=/etc/keys/k1 ansible_password=hunter2\n');
    const k1 = m.get('k1')!;
    assert.equal(k1.ssh.keyRef, 'file:/etc/keys/k1');
    assert.deepEqual(k1.labels, { 'group.kid': 'true', 'group.parent': 'true' });
    assert.ok(!JSON.stringify(k1).includes('hunter2'), 'the password is nowhere in the spec');
  });

  it('all and ungrouped as Ansible means them: hosts of [all] or [ungrouped] only are ungrouped; a host in a real group is not', () => {
    const m = specs('ansible-ini', 'lonely\n[all]\nlisted-in-all\n[ungrouped]\nexplicit\nalso-web\n[web]\nalso-web\n[all:vars]\nsite=dc1\n');
    assert.deepEqual(m.get('lonely')!.labels, { 'group.ungrouped': 'true', site: 'dc1' });
    assert.deepEqual(m.get('listed-in-all')!.labels, { 'group.ungrouped': 'true', site: 'dc1' });
    assert.deepEqual(m.get('explicit')!.labels, { 'group.ungrouped': 'true', site: 'dc1' });
    assert.deepEqual(m.get('also-web')!.labels, { 'group.web': 'true', site: 'dc1' });
  });

  it('the same host in several groups is one endpoint with every group', () => {
    const m = specs('ansible-ini', '[a]\nh\n[b]\nh\n');
    assert.deepEqual(m.get('h')!.labels, { 'group.a': 'true', 'group.b': 'true' });
  });
});

describe('INI values read as Python literals (what ansible-inventory printed for the same values)', () => {
  const table: Array<[string, unknown]> = [
    ['"1"', '1'], ["'True'", 'True'], ['1.0', 1], ['-5', -5], ['0x10', 16], ['1e3', 1000], ['0o17', 15], ['0b101', 5], ['1_000', 1000], ['+3', 3],
    ['007', '007'], ['none', 'none'], ['True', true], ['False', false], ['None', null], ['{x:1}', '{x:1}'], ['a b', 'a b'], ["'a' 'b'", 'ab'], ['"unterminated', '"unterminated'],
  ];
  for (const [text, expected] of table) it(`${text} → ${JSON.stringify(expected)}`, () => assert.deepEqual(parseIniValue(text), expected));
  it('containers are complex values, not labels', () => {
    for (const t of ['(1,2)', '[1, 2]', "{'x': 1}", '{1, 2}', '[]', '1j']) assert.ok(parseIniValue(t) instanceof ComplexValue, t);
  });
});

describe('Ansible YAML', () => {
  it('walks all: hosts/children/vars nesting with ranges and precedence', () => {
    const m = specs(
      'ansible-yaml',
      `all:
  vars:
    owner: ops
  hosts:
    solo.example.com:
      ansible_port: 2201
  children:
    web:
      vars:
        role: web
      hosts:
        web[1:2]:
          ansible_host: 10.1.0.1
    prod:
      children:
        web:
        db:
          hosts:
            db1:
              role: db
              ansible_become: true
`,
    );
    assert.deepEqual([...m.keys()].sort(), ['db1', 'solo.example.com', 'web1', 'web2']);
    assert.deepEqual(m.get('web2')!.labels, { 'group.prod': 'true', 'group.web': 'true', owner: 'ops', role: 'web' });
    assert.equal(m.get('solo.example.com')!.ssh.port, 2201);
    assert.equal(m.get('db1')!.ssh.sudo, true);
    assert.equal(m.get('db1')!.labels.role, 'db');
    assert.equal(m.get('solo.example.com')!.labels['group.ungrouped'], 'true');
  });
});

describe('CSV', () => {
  it('reads the documented header, quoted cells, groups and labels', () => {
    const m = specs('csv', 'endpoint_id,host,port,user,key_ref,sudo,groups,labels\nweb1,10.0.0.1,2222,deploy,env:KEY_WEB,yes,web;prod,"role=web;tier=gold"\ndb1,10.0.0.2,,,,,,\n');
    assert.deepEqual(m.get('web1'), {
      endpointId: 'web1',
      labels: { 'group.prod': 'true', 'group.web': 'true', role: 'web', tier: 'gold' },
      ssh: { host: '10.0.0.1', port: 2222, user: 'deploy', sudo: true, keyRef: 'env:KEY_WEB' },
      line: 2,
    } satisfies EndpointSpec);
    assert.deepEqual(m.get('db1')!.ssh, { host: '10.0.0.2', port: 22, user: 'root', sudo: false });
  });
});

/** Every bad input: its format, text, the code, the line and the field the first issue names. */
const BAD: Array<[string, InventoryFormat, string, string, number, string]> = [
  ['unclosed quote in a host line', 'ansible-ini', '[g]\nh1 role="web\n', 'INVENTORY_PARSE_ERROR', 2, 'host'],
  ['host var without =', 'ansible-ini', '[g]\nh1 justaword\n', 'INVENTORY_PARSE_ERROR', 2, 'justaword'],
  ['unknown section type', 'ansible-ini', '[g:hostz]\nh1\n', 'INVENTORY_PARSE_ERROR', 1, 'section'],
  ['section with spaces', 'ansible-ini', '[my group]\nh1\n', 'INVENTORY_PARSE_ERROR', 1, 'section'],
  ['vars line without =', 'ansible-ini', '[g]\nh\n[g:vars]\nnovalue\n', 'INVENTORY_PARSE_ERROR', 4, 'vars'],
  ['range end missing', 'ansible-ini', '[g]\nweb[01:].x\n', 'INVENTORY_PARSE_ERROR', 2, 'host'],
  ['range begin after end', 'ansible-ini', '[g]\nweb[5:1]\n', 'INVENTORY_PARSE_ERROR', 2, 'host'],
  ['range padding mismatch', 'ansible-ini', '[g]\nweb[01:100]\n', 'INVENTORY_PARSE_ERROR', 2, 'host'],
  ['pattern ending with a colon', 'ansible-ini', '[g]\nhost:\n', 'INVENTORY_PARSE_ERROR', 2, 'host'],
  ['a YAML file given as INI', 'ansible-ini', '---\n', 'INVENTORY_PARSE_ERROR', 1, 'host'],
  ['undefined child group', 'ansible-ini', '[p:children]\nnope\n', 'INVENTORY_UNDEFINED_GROUP', 2, 'children'],
  ['vars for an undefined group', 'ansible-ini', '[ghost:vars]\na=1\n', 'INVENTORY_UNDEFINED_GROUP', 1, 'vars'],
  ['same host twice in one group', 'ansible-ini', '[g]\nweb[1:3]\nweb2\n', 'INVENTORY_DUPLICATE_HOST', 3, 'host'],
  ['label value with spaces', 'ansible-ini', '[g]\nh\n[g:vars]\nowner=the ops team\n', 'INVALID_LABEL', 4, 'owner'],
  ['label value that is a list', 'ansible-ini', '[g]\nh tags="[1]" other=[1,2]\n', 'INVALID_LABEL', 2, 'tags'],
  ['variable name not a label key', 'ansible-ini', '[g]\nh -bad=1\n', 'INVALID_LABEL', 2, '-bad'],
  ['group name not a label key', 'ansible-ini', '[g!]\nh\n', 'INVALID_LABEL', 2, 'group g!'],
  ['host name not an endpoint id', 'ansible-ini', '[g]\n[2001:db8::1]:22\n', 'INVALID_ENDPOINT_ID', 2, 'host'],
  ['port out of range', 'ansible-ini', '[g]\nh ansible_port=70000\n', 'INVALID_SSH_IDENTITY', 2, 'ansible_port'],
  ['user not a POSIX name', 'ansible-ini', '[g]\nh\n[g:vars]\nansible_user=Root User\n', 'INVALID_SSH_IDENTITY', 4, 'ansible_user'],
  ['key reference of an unknown scheme', 'ansible-ini', '[g]\nh patchbay_key_ref=vault:secret/k\n', 'INVALID_SSH_IDENTITY', 2, 'patchbay_key_ref'],
  ['become not a boolean', 'ansible-ini', '[g]\nh ansible_become=maybe\n', 'INVALID_SSH_IDENTITY', 2, 'ansible_become'],
  ['host-key policy unknown', 'ansible-ini', '[g]\nh patchbay_host_key_policy=always\n', 'INVALID_SSH_IDENTITY', 2, 'patchbay_host_key_policy'],
  ['bad YAML syntax', 'ansible-yaml', 'all:\n  hosts:\n    a: b: c\n', 'INVENTORY_PARSE_ERROR', 3, 'yaml'],
  ['YAML top level not a mapping', 'ansible-yaml', '- a\n- b\n', 'INVENTORY_PARSE_ERROR', 1, 'inventory'],
  ['YAML hosts not a mapping', 'ansible-yaml', 'all:\n  hosts:\n    - a\n', 'INVENTORY_PARSE_ERROR', 3, 'all.hosts'],
  ['YAML duplicate host', 'ansible-yaml', 'all:\n  hosts:\n    a:\n    b:\n    a:\n', 'INVENTORY_DUPLICATE_HOST', 5, 'host'],
  ['YAML label value invalid', 'ansible-yaml', 'all:\n  hosts:\n    a:\n      note: "two words"\n', 'INVALID_LABEL', 4, 'note'],
  ['YAML nested var', 'ansible-yaml', 'all:\n  vars:\n    nested:\n      k: v\n  hosts:\n    a:\n', 'INVALID_LABEL', 3, 'nested'],
  ['CSV unknown column', 'csv', 'endpoint_id,host,colour\na,b,c\n', 'INVENTORY_PARSE_ERROR', 1, 'colour'],
  ['CSV missing required column', 'csv', 'endpoint_id,port\na,22\n', 'INVENTORY_PARSE_ERROR', 1, 'host'],
  ['CSV wrong cell count', 'csv', 'endpoint_id,host\na,b,c\n', 'INVENTORY_PARSE_ERROR', 2, 'row'],
  ['CSV unclosed quote', 'csv', 'endpoint_id,host\n"a,b\n', 'INVENTORY_PARSE_ERROR', 2, 'csv'],
  ['CSV duplicate endpoint', 'csv', 'endpoint_id,host\na,h1\nb,h2\na,h3\n', 'INVENTORY_DUPLICATE_HOST', 4, 'endpoint_id'],
  ['CSV label without =', 'csv', 'endpoint_id,host,labels\na,h,role\n', 'INVALID_LABEL', 2, 'labels'],
  ['CSV bad port', 'csv', 'endpoint_id,host,port\na,h,ssh\n', 'INVALID_SSH_IDENTITY', 2, 'ansible_port'],
  ['CSV bad endpoint id', 'csv', 'endpoint_id,host\n-a,h\n', 'INVALID_ENDPOINT_ID', 2, 'host'],
];

describe('bad inventories: every issue has a stable code, the file, line and field; nothing is half-valid', () => {
  for (const [name, format, text, code, line, field] of BAD) {
    it(`${format}: ${name} → ${code}`, () => {
      const r = inventoryToSpecs(format, text, 'inv.file');
      assert.deepEqual(r.specs, [], 'no endpoint survives a bad file');
      assert.ok(r.issues.length > 0, 'an issue is reported');
      const first = r.issues[0]!;
      assert.deepEqual({ code: first.code, file: first.file, line: first.line, field: first.field }, { code, file: 'inv.file', line, field }, JSON.stringify(r.issues));
    });
  }
  it('one bad host among many rejects the whole file', () => {
    const text = `[g]\n${Array.from({ length: 500 }, (_, i) => `h${i}`).join('\n')}\nbad ansible_port=0\n`;
    const r = inventoryToSpecs('ansible-ini', text, 'big.ini');
    assert.equal(r.specs.length, 0);
    assert.equal(r.issues.length, 1);
  });
});

describe('import plan', () => {
  it('registers new endpoints, leaves unchanged ones alone, and retires missing ones only when asked', () => {
    const first = inventoryToSpecs('ansible-ini', '[web]\na\nb\n', 'f.ini').specs;
    const empty = new Map();
    const p1 = planImport(first, empty, { source: 'ansible-ini:f.ini', retireMissing: false });
    assert.deepEqual(p1.summary, { endpoints: 2, registered: 2, updated: 0, unchanged: 0, retired: 0 });
    const stored = new Map(
      p1.changes.map((c) => {
        const data = (c.events[0] as unknown as { data: { labels: Record<string, string>; ssh: never; source: string } }).data;
        return [c.endpointId, { state: { ...initialState(), status: 'active' as const, endpointId: c.endpointId, labels: data.labels, ssh: data.ssh, source: data.source }, revision: 0 }];
      }),
    );
    assert.equal(planImport(first, stored, { source: 'ansible-ini:f.ini', retireMissing: true }).changes.length, 0, 're-import of the same file changes nothing');
    const second = inventoryToSpecs('ansible-ini', '[web]\na role=x\n', 'f.ini').specs;
    const p2 = planImport(second, stored, { source: 'ansible-ini:f.ini', retireMissing: true });
    assert.deepEqual(p2.summary, { endpoints: 1, registered: 0, updated: 1, unchanged: 0, retired: 1 });
    assert.deepEqual(p2.changes.map((c) => [c.endpointId, c.expectedRevision, c.events.map((e) => e.type)]), [
      ['a', 0, ['EndpointLabelsChanged']],
      ['b', 0, ['EndpointRetired']],
    ]);
    assert.equal(planImport(second, stored, { source: 'other', retireMissing: true }).summary.retired, 0, 'endpoints of another source are never retired');
  });
});
