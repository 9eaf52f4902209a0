import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAnsibleIni } from './domain/import/ansible-ini.js';
import { ComplexValue } from './domain/import/ansible-values.js';
import { parseAnsibleYaml } from './domain/import/ansible-yaml.js';

/**
 * Conformance with Ansible itself: the same inventories through `ansible-inventory --list`
 * (ansible-core, Debian package `ansible-core`) and through our parsers must give the same hosts,
 * the same group memberships (children followed) and the same merged variables.
 */
const ansible = spawnSync('ansible-inventory', ['--version'], { encoding: 'utf8' });
const skip = ansible.status === 0 ? false : 'ansible-inventory is not installed (apt-get install ansible-core)';

interface AnsibleList {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | AnsibleList['_meta'];
}

const CASES: Array<[string, 'ini' | 'yaml', string]> = [
  [
    'groups, children, vars precedence, inline literals, ports, ranges',
    'ini',
    `bastion.example.com ansible_port=2200
[web]
web[01:03].example.com ansible_user=deploy
web-extra ansible_host=10.0.0.9 role="frontend" weight=3 ratio=0.5 flag=True none=None quoted='a b'
[db]
db-[a:c] ansible_become=yes
[dbports]
db-b:2022 extra=1
[db:vars]
role = db
tier=gold
count=5
[prod:children]
web
db
[prod:vars]
env=prod
role=generic
tier=silver
[all:vars]
ansible_user=patchbay
owner=ops
`,
  ],
  ['Python literals in host lines and vars sections', 'ini', `[g]\nh1 a="1" b='True' c=1.0 d=-5 e=0x10 f=1e3 g=0o17 h=none i="a=b" j=1_000 k=+3 l=007 m=True n=(1,2) o={'x':1} p=0b101\n[g:vars]\nq=True\nr="quoted"\ns=0x1F\nt= spaced value \nu=[1,2]\n`],
  ['all and ungrouped, comments, steps and padding', 'ini', `; leading comment\nlonely # inline\n[all]\nin-all\n[ungrouped]\nexplicit\n[x]\nn[1:9:4] k=v\nm[08:10]\n[ungrouped:vars]\nu=1\n`],
  ['same depth siblings resolve by name; later host lines win', 'ini', `[b]\nh v=1\n[a]\nh\n[a:vars]\ns=a\n[b:vars]\ns=b\n[c]\nh v=2\n`],
  ['children declared before the group', 'ini', `[top:children]\nmid\n[mid:children]\nleaf\n[leaf]\nl1\n[top:vars]\nt=1\n[mid:vars]\nt=2\n`],
  [
    'YAML nesting',
    'yaml',
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
        web[1:3]:
          ansible_host: 10.1.0.1
    prod:
      vars:
        role: prod
      children:
        web:
        db:
          hosts:
            db1:
              role: db
              ansible_become: true
            db2:
    ungrouped:
      hosts:
        loose:
`,
  ],
];

/** Inventories Ansible refuses; we must refuse them too. */
const BAD_INI: Array<[string, string]> = [
  ['undefined child group', '[p:children]\nnope\n'],
  ['vars of an undefined group', '[ghost:vars]\na=1\n'],
  ['unknown section type', '[g:hostz]\nh\n'],
  ['section with a space', '[my group]\nh\n'],
  ['host variable without =', '[g]\nh justaword\n'],
  ['unclosed quote', '[g]\nh a="b\n'],
  ['range with unequal padding', '[g]\nweb[01:100]\n'],
  ['pattern ending with a colon', '[g]\nhost:\n'],
  ['YAML given to the INI parser', '---\n'],
];

describe('Ansible conformance (ansible-inventory --list)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-ansible-conf-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = () => ({ PATH: process.env['PATH'], HOME: dir, ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'), ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true' });

  for (const [name, text] of BAD_INI) {
    it(`ini refused by both: ${name}`, () => {
      const file = join(dir, 'bad.ini');
      writeFileSync(file, text);
      const r = spawnSync('ansible-inventory', ['-i', file, '--list'], { encoding: 'utf8', env: { ...env(), ANSIBLE_INVENTORY_ENABLED: 'ini' } });
      assert.notEqual(r.status, 0, `Ansible accepted it: ${r.stdout}`);
      assert.ok(parseAnsibleIni(text, file).issues.length > 0, 'we accepted it');
    });
  }

  for (const [name, kind, text] of CASES) {
    it(`${kind}: ${name}`, () => {
      const file = join(dir, `inv.${kind === 'ini' ? 'ini' : 'yml'}`);
      writeFileSync(file, text);
      const r = spawnSync('ansible-inventory', ['-i', file, '--list'], {
        encoding: 'utf8',
        env: { PATH: process.env['PATH'], HOME: dir, ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'), ANSIBLE_INVENTORY_ENABLED: kind === 'ini' ? 'ini' : 'yaml', ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true' },
      });
      assert.equal(r.status, 0, r.stderr);
      const list = JSON.parse(r.stdout) as AnsibleList;
      const ours = kind === 'ini' ? parseAnsibleIni(text, file) : parseAnsibleYaml(text, file);
      assert.deepEqual(ours.issues, []);

      const hostvars = list._meta.hostvars;
      const theirHosts = new Set<string>();
      const direct = new Map<string, Set<string>>();
      const children = new Map<string, string[]>();
      for (const [g, v] of Object.entries(list)) {
        if (g === '_meta') continue;
        const grp = v as { hosts?: string[]; children?: string[] };
        children.set(g, grp.children ?? []);
        for (const h of grp.hosts ?? []) {
          theirHosts.add(h);
          (direct.get(h) ?? direct.set(h, new Set()).get(h)!).add(g);
        }
      }
      const parentsOf = (g: string) => [...children].filter(([, cs]) => cs.includes(g)).map(([p]) => p);
      const groupsOf = (h: string): string[] => {
        const out = new Set<string>();
        const stack = [...(direct.get(h) ?? [])];
        while (stack.length) {
          const g = stack.pop()!;
          if (out.has(g)) continue;
          out.add(g);
          stack.push(...parentsOf(g));
        }
        out.delete('all');
        return [...out].sort();
      };
      assert.deepEqual(ours.hosts.map((h) => h.name).sort(), [...theirHosts].sort(), 'same hosts');
      for (const h of ours.hosts) {
        assert.deepEqual(h.groups, groupsOf(h.name), `groups of ${h.name}`);
        const mine = Object.fromEntries([...h.vars].map(([k, v]) => [k, v.value instanceof ComplexValue ? '(complex)' : v.value]));
        const theirs = Object.fromEntries(Object.entries(hostvars[h.name] ?? {}).map(([k, v]) => [k, v !== null && typeof v === 'object' ? '(complex)' : v]));
        assert.deepEqual(mine, theirs, `variables of ${h.name}`);
      }
    });
  }
});
