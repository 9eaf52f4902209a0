#!/usr/bin/env node
// Several services, and optionally the relay, in one process (they still talk only through NATS):
// what `patchbay up` runs with PATCHBAY_UP_LAYOUT=grouped, for the services that need little CPU.
//   node dist/group-main.js inventory policy planner relay
// Configuration comes from the environment as for every service. Unknown names: exit 2 with
// VALIDATION_FAILED; a bad setting: exit 2 with CONFIG_INVALID; SIGTERM/SIGINT: every part stops
// (the relay saves its checkpoint) and the process exits 0.
import { loadConfig, requireNatsUrl, type PatchbayConfig } from '@patchbay/service-host';
import { manageHeap } from '@patchbay/telemetry';
import { PARTS, startPart, type Part } from './parts.js';

function fail(code: string, message: string, status: number): never {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', service: 'group', code, msg: message })}\n`);
  process.exit(status);
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !(PARTS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0 || new Set(names).size !== names.length) {
    fail('VALIDATION_FAILED', `usage: group-main.js <${PARTS.join('|')}>... (each at most once)${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`, 2);
  }
  let config: PatchbayConfig;
  try {
    config = loadConfig();
    requireNatsUrl(config);
    manageHeap(config.nodeHeapGrowingPercent);
  } catch (err) {
    fail('CONFIG_INVALID', (err as Error).message, 2);
  }
  const closers: Array<() => Promise<void>> = [];
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const close of closers.reverse()) await close().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  try {
    for (const part of names as Part[]) closers.push(await startPart(part, config));
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    fail((err as { code?: string }).code ?? 'STARTUP_FAILED', (err as Error).message, 1);
  }
}

void main();
