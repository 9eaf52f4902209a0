import type { InventoryIssue } from '../errors.js';
import type { RawHost, RawInventory, SourcedValue } from './raw-inventory.js';

/**
 * The CSV inventory header. `endpoint_id` and `host` are required; the others may be left out
 * (column or cell). `labels` is `key=value;key=value`; `sudo` is true/false/yes/no/1/0;
 * `key_ref` is `file:<path>` or `env:<VARIABLE>`; `groups` is `web;db` (each becomes `group.<name>=true`).
 */
export const CSV_COLUMNS = ['endpoint_id', 'host', 'port', 'user', 'key_ref', 'sudo', 'groups', 'labels'] as const;
const TO_VAR: Record<string, string> = { host: 'ansible_host', port: 'ansible_port', user: 'ansible_user', key_ref: 'patchbay_key_ref', sudo: 'ansible_become' };

/** RFC 4180 records with the line each starts on; throws on an unclosed quote. */
function records(text: string): Array<{ line: number; cells: string[] }> {
  const out: Array<{ line: number; cells: string[] }> = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const start = line;
    const cells: string[] = [];
    let cell = '';
    for (;;) {
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw Object.assign(new Error('unclosed quote'), { line: start });
          if (text[i] === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (text[i] === '\n') line++;
          cell += text[i++];
        }
      }
      while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') cell += text[i++];
      cells.push(cell);
      cell = '';
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') {
        i++;
        line++;
      }
      break;
    }
    if (!(cells.length === 1 && cells[0]!.trim() === '')) out.push({ line: start, cells });
  }
  return out;
}

/** Parses a CSV inventory (header {@link CSV_COLUMNS}); each row is one host. */
export function parseCsvInventory(text: string, file: string): RawInventory {
  const issues: InventoryIssue[] = [];
  const issue = (code: InventoryIssue['code'], line: number, field: string, message: string) => issues.push({ code, file, line, field, message });
  let rows: Array<{ line: number; cells: string[] }>;
  try {
    rows = records(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    issue('INVENTORY_PARSE_ERROR', (err as { line?: number }).line ?? 1, 'csv', (err as Error).message);
    return { file, hosts: [], issues };
  }
  if (rows.length === 0) return { file, hosts: [], issues };
  const header = rows[0]!.cells.map((c) => c.trim());
  for (const h of header) if (!(CSV_COLUMNS as readonly string[]).includes(h)) issue('INVENTORY_PARSE_ERROR', 1, h || '(empty)', `unknown column; expected some of ${CSV_COLUMNS.join(',')}`);
  for (const required of ['endpoint_id', 'host']) if (!header.includes(required)) issue('INVENTORY_PARSE_ERROR', 1, required, 'required column is missing');
  if (new Set(header).size !== header.length) issue('INVENTORY_PARSE_ERROR', 1, 'header', 'a column is named twice');
  if (issues.length) return { file, hosts: [], issues };
  const hosts: RawHost[] = [];
  const seen = new Map<string, number>();
  for (const { line, cells } of rows.slice(1)) {
    if (cells.length !== header.length) {
      issue('INVENTORY_PARSE_ERROR', line, 'row', `expected ${header.length} cells, found ${cells.length}`);
      continue;
    }
    const row = Object.fromEntries(header.map((h, i) => [h, cells[i]!.trim()]));
    const name = row['endpoint_id']!;
    const first = seen.get(name);
    if (first !== undefined) {
      issue('INVENTORY_DUPLICATE_HOST', line, 'endpoint_id', `${name} is already listed at line ${first}`);
      continue;
    }
    seen.set(name, line);
    const vars = new Map<string, SourcedValue>();
    for (const [col, v] of Object.entries(TO_VAR)) {
      const cell = row[col];
      if (cell) vars.set(v, { value: col === 'port' && /^\d+$/.test(cell) ? Number(cell) : cell, line });
    }
    if (row['labels']) {
      for (const pair of row['labels'].split(';')) {
        if (!pair.trim()) continue;
        const eq = pair.indexOf('=');
        if (eq <= 0) {
          issue('INVALID_LABEL', line, 'labels', `expected key=value, got ${JSON.stringify(pair.slice(0, 100))}`);
          continue;
        }
        vars.set(pair.slice(0, eq).trim(), { value: pair.slice(eq + 1).trim(), line });
      }
    }
    const groups = (row['groups'] ?? '').split(';').map((g) => g.trim()).filter(Boolean);
    hosts.push({ name, line, vars, groups: groups.length ? [...new Set(groups)].sort() : ['ungrouped'] });
  }
  return { file, hosts: issues.length ? [] : hosts, issues };
}
