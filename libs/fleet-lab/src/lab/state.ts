import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { scenarioSchema } from '../scenario.js';

const recordedProcessSchema = z.object({ pid: z.number().int(), startTime: z.number() });

/** What the lab records about one host, enough to find and remove everything it made. */
export const hostStateSchema = z.object({
  index: z.number().int(),
  name: z.string(),
  address: z.string(),
  /** Port on 127.0.0.1 forwarded to the host's sshd. */
  port: z.number().int(),
  netns: z.string(),
  veth: z.string(),
  dir: z.string(),
  /** tmpfs in the root mount namespace holding the host's upper dir (its disk quota). */
  diskMount: z.string(),
  diskMb: z.number().int(),
  unshare: recordedProcessSchema.optional(),
  init: recordedProcessSchema.optional(),
  power: z.enum(['starting', 'running', 'rebooting', 'off']),
  boots: z.number().int(),
});
export type HostState = z.infer<typeof hostStateSchema>;

/** The lab's recorded state (`lab.json` in its state directory). */
export const labStateSchema = z.object({
  version: z.literal(1),
  labId: z.string(),
  stateDir: z.string(),
  status: z.enum(['starting', 'up', 'stopping', 'down', 'failed']),
  supervisor: recordedProcessSchema,
  subnet: z.string(),
  bridge: z.string(),
  gateway: z.string(),
  baseDir: z.string(),
  layerDir: z.string(),
  repoDir: z.string(),
  clientKey: z.string(),
  scenario: scenarioSchema,
  startedAt: z.string(),
  upSeconds: z.number().optional(),
  error: z.string().optional(),
  hosts: z.array(hostStateSchema),
});
export type LabState = z.infer<typeof labStateSchema>;

/** Faults another process asked for that only the supervisor can apply (forwarder latency). */
export const faultRequestsSchema = z.object({ latencyMs: z.record(z.string(), z.number().int().nonnegative()).default({}) });
export type FaultRequests = z.infer<typeof faultRequestsSchema>;

/** Directory for the registry of running labs unless `PATCHBAY_LAB_RUN` says otherwise. */
export function runDir(): string {
  return process.env.PATCHBAY_LAB_RUN ?? '/run/patchbay-lab';
}

/** Default lab state directory unless `PATCHBAY_LAB_STATE` says otherwise. */
export function defaultStateDir(): string {
  return process.env.PATCHBAY_LAB_STATE ?? '/var/lib/patchbay-lab/default';
}

/** Path of a lab's state file. */
export function stateFile(stateDir: string): string {
  return join(stateDir, 'lab.json');
}

/** Path of the fault requests the supervisor polls. */
export function faultsFile(stateDir: string): string {
  return join(stateDir, 'faults.json');
}

/** Reads a lab's state, or undefined when there is none. */
export async function readLabState(stateDir: string): Promise<LabState | undefined> {
  const f = stateFile(stateDir);
  if (!existsSync(f)) return undefined;
  return labStateSchema.parse(JSON.parse(await readFile(f, 'utf8')));
}

/** Writes state atomically (readers never see half a file). */
export async function writeLabState(state: LabState): Promise<void> {
  await writeJsonAtomic(stateFile(state.stateDir), state);
}

/** Writes JSON through a temporary file and a rename. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, JSON.stringify(value, null, 2));
  await rename(tmp, path);
}

/** A registry entry: a lab that may hold machine resources, found again after a crash. */
export const registryEntrySchema = z.object({ labId: z.string(), stateDir: z.string(), subnet: z.string() });
export type RegistryEntry = z.infer<typeof registryEntrySchema>;

/** Records a lab in the machine-wide registry (before it makes anything). */
export async function registerLab(entry: RegistryEntry): Promise<void> {
  await mkdir(join(runDir(), 'labs'), { recursive: true });
  await writeJsonAtomic(join(runDir(), 'labs', `${entry.labId}.json`), entry);
}

/** Removes a lab from the registry once nothing of it is left. */
export async function unregisterLab(labId: string): Promise<void> {
  await rm(join(runDir(), 'labs', `${labId}.json`), { force: true });
}

/** Every registered lab (running or left behind). */
export async function registeredLabs(): Promise<RegistryEntry[]> {
  const dir = join(runDir(), 'labs');
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: RegistryEntry[] = [];
  for (const n of names.filter((n) => n.endsWith('.json'))) {
    try {
      out.push(registryEntrySchema.parse(JSON.parse(await readFile(join(dir, n), 'utf8'))));
    } catch {
      /* a half-written or foreign file is not ours */
    }
  }
  return out;
}
