import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import type { InventoryIssue } from '../errors.js';
import { ComplexValue } from './ansible-values.js';
import { expandHostRange, HostPatternError, splitHostPort } from './host-pattern.js';
import { InventoryGraph, withPatternPort, type RawInventory, type SourcedValue } from './raw-inventory.js';

/**
 * Parses an Ansible YAML inventory (its `yaml` inventory plugin): top-level keys are groups
 * (usually `all`), each a mapping with optional `hosts` (host pattern → vars), `vars` and
 * `children` (group name → group), nested to any depth; host patterns may carry ports and
 * ranges. Issues carry the line of the offending node.
 */
export function parseAnsibleYaml(text: string, file: string): RawInventory {
  const issues: InventoryIssue[] = [];
  const lc = new LineCounter();
  const issue = (code: InventoryIssue['code'], line: number, field: string, message: string) => issues.push({ code, file, line, field, message });
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
  const lineOf = (node: unknown): number => {
    const r = (node as { range?: [number, number, number] } | null)?.range;
    return r ? lc.linePos(r[0]).line : 1;
  };
  for (const e of doc.errors) issue('INVENTORY_PARSE_ERROR', e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line, 'yaml', e.message.split('\n')[0]!);
  if (issues.length) return { file, hosts: [], issues };
  const graph = new InventoryGraph();
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return { file, hosts: [], issues };
  if (!isMap(root)) {
    issue('INVENTORY_PARSE_ERROR', lineOf(root), 'inventory', 'expected a mapping of groups at the top (e.g. `all:`)');
    return { file, hosts: [], issues };
  }
  const keyText = (p: Pair): string => (isScalar(p.key) ? String(p.key.value) : String(p.key));
  const toValue = (node: unknown): unknown => {
    if (node === null || node === undefined) return null;
    if (isScalar(node)) return node.value;
    if (isMap(node) || isSeq(node)) return new ComplexValue(String(node));
    return null;
  };
  const readVars = (node: unknown, field: string): Map<string, SourcedValue> => {
    const out = new Map<string, SourcedValue>();
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return out;
    if (!isMap(node)) {
      issue('INVENTORY_PARSE_ERROR', lineOf(node), field, 'expected a mapping of variables');
      return out;
    }
    for (const p of node.items) out.set(keyText(p), { value: toValue(p.value), line: lineOf(p.key) });
    return out;
  };
  const walkGroup = (name: string, node: unknown, line: number, depth: number): void => {
    if (depth > 50) {
      issue('INVENTORY_PARSE_ERROR', line, name, 'groups nested deeper than 50 levels');
      return;
    }
    const g = graph.group(name);
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) {
      issue('INVENTORY_PARSE_ERROR', lineOf(node), name, `group ${name} must be a mapping with hosts, vars or children`);
      return;
    }
    for (const p of (node as YAMLMap).items) {
      const section = keyText(p);
      if (section === 'vars') for (const [k, v] of readVars(p.value, `${name}.vars`)) g.vars.set(k, v);
      else if (section === 'children') {
        const c = p.value as Node | null;
        if (c === null || (isScalar(c) && c.value === null)) continue;
        if (!isMap(c)) {
          issue('INVENTORY_PARSE_ERROR', lineOf(c), `${name}.children`, 'expected a mapping of groups');
          continue;
        }
        for (const cp of c.items) {
          const child = keyText(cp);
          g.children.add(child);
          walkGroup(child, cp.value, lineOf(cp.key), depth + 1);
        }
      } else if (section === 'hosts') {
        const h = p.value as Node | null;
        if (h === null || (isScalar(h) && h.value === null)) continue;
        if (!isMap(h)) {
          issue('INVENTORY_PARSE_ERROR', lineOf(h), `${name}.hosts`, 'expected a mapping of host names');
          continue;
        }
        const seen = new Map<string, number>();
        for (const hp of h.items) {
          const pattern = keyText(hp);
          const hostLine = lineOf(hp.key);
          const vars = readVars(hp.value, pattern);
          let names: string[];
          let port: number | undefined;
          try {
            const split = splitHostPort(pattern);
            port = split.port;
            names = expandHostRange(split.name);
          } catch (err) {
            if (!(err instanceof HostPatternError)) throw err;
            issue('INVENTORY_PARSE_ERROR', hostLine, 'host', `${pattern}: ${err.message}`);
            continue;
          }
          for (const hn of names) {
            const first = seen.get(hn);
            if (first !== undefined) {
              issue('INVENTORY_DUPLICATE_HOST', hostLine, 'host', `${hn} is already listed in ${name}.hosts at line ${first}`);
              continue;
            }
            seen.set(hn, hostLine);
            graph.addHost(name, hn, hostLine, withPatternPort(graph, hn, vars, port, hostLine));
          }
        }
      }
      // Ansible skips other keys with a warning; so do we (they carry no hosts).
    }
  };
  for (const p of root.items) walkGroup(keyText(p), p.value, lineOf(p.key), 0);
  return { file, hosts: issues.length ? [] : graph.resolve(), issues };
}
