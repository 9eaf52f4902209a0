import type { InventoryIssue } from '../errors.js';
import { parseIniValue, shlexSplit } from './ansible-values.js';
import { expandHostRange, HostPatternError, splitHostPort } from './host-pattern.js';
import { InventoryGraph, withPatternPort, type RawInventory, type SourcedValue } from './raw-inventory.js';

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;

/**
 * Parses an Ansible INI inventory by Ansible's own rules (its `ini` inventory plugin): hosts
 * before any section are `ungrouped`; `[g]` lists hosts with inline `key=value` vars (values read
 * as Python literals), `[g:vars]` sets group vars, `[g:children]` nests groups (which may be
 * declared later, but must be declared); `#` and `;` start comment lines; host names may carry a
 * port and ranges. Every problem is collected as an issue with its line, not thrown.
 */
export function parseAnsibleIni(text: string, file: string): RawInventory {
  const issues: InventoryIssue[] = [];
  const issue = (code: InventoryIssue['code'], line: number, field: string, message: string) => issues.push({ code, file, line, field, message });
  const graph = new InventoryGraph();
  const declared = new Set(['all', 'ungrouped']);
  const pendingChildren: Array<{ parent: string; child: string; line: number }> = [];
  const pendingVars = new Map<string, number>();
  const seenInGroup = new Map<string, Map<string, number>>();
  let group = 'ungrouped';
  let state: 'hosts' | 'vars' | 'children' = 'hosts';
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = lines[n]!.trim();
    if (!line || line[0] === '#' || line[0] === ';') continue;
    const m = SECTION.exec(line);
    if (m) {
      group = m[1]!;
      const kind = m[2] ?? 'hosts';
      if (kind !== 'hosts' && kind !== 'children' && kind !== 'vars') {
        issue('INVENTORY_PARSE_ERROR', lineNo, 'section', `section [${m[1]}:${kind}] has unknown type: ${kind}`);
        state = 'hosts';
        continue;
      }
      state = kind;
      graph.group(group);
      if (kind === 'vars') {
        if (!declared.has(group) && !pendingVars.has(group)) pendingVars.set(group, lineNo);
      } else declared.add(group);
      continue;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      issue('INVENTORY_PARSE_ERROR', lineNo, 'section', `invalid section entry ${line}: no spaces or other invalid characters allowed`);
      continue;
    }
    if (state === 'hosts') {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (err) {
        issue('INVENTORY_PARSE_ERROR', lineNo, 'host', `error parsing host definition: ${(err as Error).message}`);
        continue;
      }
      if (tokens.length === 0) continue;
      const vars = new Map<string, SourcedValue>();
      let bad = false;
      for (const t of tokens.slice(1)) {
        const eq = t.indexOf('=');
        if (eq <= 0) {
          issue('INVENTORY_PARSE_ERROR', lineNo, t.slice(0, 50), `expected key=value host variable assignment, got: ${t.slice(0, 100)}`);
          bad = true;
          continue;
        }
        vars.set(t.slice(0, eq), { value: parseIniValue(t.slice(eq + 1)), line: lineNo });
      }
      if (bad) continue;
      const pattern = tokens[0]!;
      if (pattern === '---') {
        issue('INVENTORY_PARSE_ERROR', lineNo, 'host', "invalid host pattern '---': this looks like a YAML file");
        continue;
      }
      let names: string[];
      let port: number | undefined;
      try {
        const hp = splitHostPort(pattern);
        port = hp.port;
        names = expandHostRange(hp.name);
      } catch (err) {
        if (!(err instanceof HostPatternError)) throw err;
        issue('INVENTORY_PARSE_ERROR', lineNo, 'host', `${pattern}: ${err.message}`);
        continue;
      }
      const seen = seenInGroup.get(group) ?? seenInGroup.set(group, new Map()).get(group)!;
      for (const name of names) {
        const first = seen.get(name);
        if (first !== undefined) {
          issue('INVENTORY_DUPLICATE_HOST', lineNo, 'host', `${name} is already listed in [${group}] at line ${first}`);
          continue;
        }
        seen.set(name, lineNo);
        graph.addHost(group, name, lineNo, withPatternPort(graph, name, vars, port, lineNo));
      }
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) {
        issue('INVENTORY_PARSE_ERROR', lineNo, 'vars', `expected key=value, got: ${line.slice(0, 100)}`);
        continue;
      }
      const key = line.slice(0, eq).trim();
      graph.group(group).vars.set(key, { value: parseIniValue(line.slice(eq + 1).trim()), line: lineNo });
    } else {
      let child: string;
      try {
        const t = shlexSplit(line);
        if (t.length !== 1) throw new Error(`expected one group name, got: ${line.slice(0, 100)}`);
        child = t[0]!;
      } catch (err) {
        issue('INVENTORY_PARSE_ERROR', lineNo, 'children', (err as Error).message);
        continue;
      }
      pendingChildren.push({ parent: group, child, line: lineNo });
    }
  }
  for (const { parent, child, line } of pendingChildren) {
    if (!declared.has(child)) issue('INVENTORY_UNDEFINED_GROUP', line, 'children', `section [${parent}:children] includes undefined group: ${child}`);
    else graph.group(parent).children.add(child);
  }
  for (const [g, line] of pendingVars) {
    if (!declared.has(g)) issue('INVENTORY_UNDEFINED_GROUP', line, 'vars', `section [${g}:vars] not valid for undefined group: ${g}`);
  }
  return { file, hosts: issues.length ? [] : graph.resolve(), issues };
}
