import type { InventoryIssue } from '../errors.js';

/** A variable as written in the file, with the line that set it. */
export interface SourcedValue {
  value: unknown;
  line: number;
}

/** A host as an inventory file declares it, before mapping to an endpoint. */
export interface RawHost {
  /** Inventory host name (Ansible's `inventory_hostname`): becomes the endpoint id. */
  name: string;
  /** Line of the host's first declaration. */
  line: number;
  /** Merged variables, by Ansible's precedence (all < parent group < child group < host). */
  vars: Map<string, SourcedValue>;
  /** Groups the host belongs to, directly or through `children`, without `all`. */
  groups: string[];
}

/** A parsed inventory, or the issues that make it unusable. */
export interface RawInventory {
  file: string;
  hosts: RawHost[];
  issues: InventoryIssue[];
}

/** Groups, their hosts, vars and children while a file is read; resolved into {@link RawHost}s at the end. */
export class InventoryGraph {
  readonly groups = new Map<string, { vars: Map<string, SourcedValue>; children: Set<string>; hosts: Set<string> }>();
  readonly hosts = new Map<string, { line: number; vars: Map<string, SourcedValue> }>();

  constructor() {
    this.group('all');
    this.group('ungrouped');
  }

  /** Declares a group (idempotent). */
  group(name: string) {
    let g = this.groups.get(name);
    if (!g) {
      g = { vars: new Map(), children: new Set(), hosts: new Set() };
      this.groups.set(name, g);
    }
    return g;
  }

  /** Adds a host to a group; host vars merge, later declarations win (as in Ansible). */
  addHost(group: string, name: string, line: number, vars: Map<string, SourcedValue>): void {
    let h = this.hosts.get(name);
    if (!h) {
      h = { line, vars: new Map() };
      this.hosts.set(name, h);
    }
    for (const [k, v] of vars) h.vars.set(k, v);
    this.group(group).hosts.add(name);
  }

  /** Resolves memberships and variable precedence into hosts. */
  resolve(): RawHost[] {
    const parents = new Map<string, Set<string>>();
    for (const [name, g] of this.groups) for (const c of g.children) (parents.get(c) ?? parents.set(c, new Set()).get(c)!).add(name);
    const depthMemo = new Map<string, number>();
    const depth = (g: string, seen = new Set<string>()): number => {
      if (g === 'all') return 0;
      const known = depthMemo.get(g);
      if (known !== undefined) return known;
      if (seen.has(g)) return 1; // a cycle: Ansible refuses it when adding the child; treat as shallow here
      seen.add(g);
      const ps = [...(parents.get(g) ?? [])];
      const d = ps.length === 0 ? 1 : Math.max(...ps.map((p) => depth(p, seen))) + 1;
      depthMemo.set(g, d);
      return d;
    };
    const ancestorMemo = new Map<string, Set<string>>();
    const ancestors = (g: string): Set<string> => {
      const known = ancestorMemo.get(g);
      if (known) return known;
      const out = new Set<string>();
      ancestorMemo.set(g, out);
      const stack = [g];
      while (stack.length) {
        const cur = stack.pop()!;
        if (out.has(cur)) continue;
        out.add(cur);
        for (const p of parents.get(cur) ?? []) stack.push(p);
      }
      return out;
    };
    const direct = new Map<string, Set<string>>();
    for (const [gname, g] of this.groups) for (const h of g.hosts) (direct.get(h) ?? direct.set(h, new Set()).get(h)!).add(gname);
    const out: RawHost[] = [];
    const mergedMemo = new Map<string, Map<string, SourcedValue>>();
    for (const [name, h] of this.hosts) {
      const member = new Set<string>();
      for (const g of direct.get(name) ?? []) for (const a of ancestors(g)) member.add(a);
      member.delete('all');
      if (member.size === 0 || (member.size === 1 && member.has('ungrouped'))) member.add('ungrouped');
      else member.delete('ungrouped');
      const groups = [...member].sort();
      // Hosts of one group share their group variables: merge them once per membership.
      const signature = groups.join('\u0000');
      let groupVars = mergedMemo.get(signature);
      if (!groupVars) {
        groupVars = new Map<string, SourcedValue>();
        const ordered = ['all', ...[...groups].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0))];
        for (const g of ordered) for (const [k, v] of this.groups.get(g)?.vars ?? []) groupVars.set(k, v);
        mergedMemo.set(signature, groupVars);
      }
      const vars = new Map<string, SourcedValue>(groupVars);
      for (const [k, v] of h.vars) vars.set(k, v);
      out.push({ name, line: h.line, vars, groups });
    }
    return out;
  }
}

/**
 * A port in the host pattern (`host:2222`) becomes `ansible_port` only where the host is first
 * declared, as Ansible's `Host(name, port)` does; a later `host:port` of a known host is ignored
 * by Ansible, and so here. Explicit `ansible_port` variables win either way.
 */
export function withPatternPort(graph: InventoryGraph, name: string, vars: Map<string, SourcedValue>, port: number | undefined, line: number): Map<string, SourcedValue> {
  if (port === undefined || graph.hosts.has(name) || vars.has('ansible_port')) return vars;
  return new Map([['ansible_port', { value: port, line }], ...vars]);
}
