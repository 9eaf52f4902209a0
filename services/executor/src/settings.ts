import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError } from '@patchbay/service-host';
import { parseCrashFault, type CrashFault } from './endpoint-run.js';

/** Settings of the executor service, from its environment (see the README). */
export interface ExecutorSettings {
  /** Stable id of this executor; a restarted executor with the same id resumes its unfinished runs. */
  executorId: string;
  /** Endpoint runs driven at once. */
  concurrency: number;
  /**
   * CPU priority (nice, 0–19) of the executor's own process, set when it starts (default 10): its
   * work waits on SSH, and when the CPU is short the event path (relay, nats-server, gateway) goes
   * first. On 2 cores during a 1,000-endpoint cycle with 100 subscribers: p99 2.7–3.8 s → 0.93 s,
   * the cycle as fast; at 10,000 endpoints 111.5 → 113.4 s. 0 leaves it as started.
   */
  nice: number;
  resumeIntervalMs: number;
  abortPollMs: number;
  rebootPollMs: number;
  ackWaitMs: number;
  /** Take over runs of an executor silent this long (ms); 0: never. */
  takeoverAfterMs: number;
  /** Run remote commands under GNU `timeout` with a run marker, so a stopped or orphaned command really ends on the host (see libs/remote). */
  remoteProcessControl: boolean;
  /** Write a reboot marker in the endpoint's /run in the reboot command (needs a POSIX shell there). */
  rebootMarker: boolean;
  /** Key reference for endpoints without one. */
  defaultKeyRef?: string;
  connectTimeoutMs: number;
  /** After SIGTERM to a stopped remote command, how long before SIGKILL (ms). */
  stopGraceMs: number;
  crashFault?: CrashFault;
}

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const schema = z.object({
  PATCHBAY_EXECUTOR_ID: z.string().regex(/^[A-Za-z0-9_.@-]{1,100}$/, 'letters, digits and _ . @ - (max 100)').optional(),
  PATCHBAY_EXECUTOR_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(32),
  PATCHBAY_EXECUTOR_NICE: z.coerce.number().int().min(0).max(19).default(10),
  PATCHBAY_EXECUTOR_RESUME_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  PATCHBAY_EXECUTOR_ABORT_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(500),
  PATCHBAY_EXECUTOR_REBOOT_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(150),
  PATCHBAY_EXECUTOR_ACK_WAIT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  PATCHBAY_EXECUTOR_TAKEOVER_AFTER_MS: z.coerce.number().int().min(0).max(7 * 86_400_000).default(0),
  PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL: bool.default(true),
  PATCHBAY_EXECUTOR_REBOOT_MARKER: bool.default(true),
  PATCHBAY_EXECUTOR_DEFAULT_KEY_REF: z.string().regex(/^(file:\S+|env:[A-Za-z_][A-Za-z0-9_]*)$/, 'file:<path> or env:<VARIABLE>').optional(),
  PATCHBAY_EXECUTOR_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  PATCHBAY_EXECUTOR_STOP_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(2000),
  PATCHBAY_EXECUTOR_FAULT_KILL_AFTER: z.string().regex(/^[A-Za-z]+(:[a-z0-9.-]*(:\d+)?)?$/).optional(),
});

/** Reads the settings; a bad value is `CONFIG_INVALID` naming the variable (the process exits with status 2). */
export function loadExecutorSettings(env: NodeJS.ProcessEnv = process.env): ExecutorSettings {
  const r = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('PATCHBAY_EXECUTOR_') && v !== '')));
  if (!r.success) throw new ConfigError(`invalid executor settings: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { issues: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
  const e = r.data;
  const fault = parseCrashFault(e.PATCHBAY_EXECUTOR_FAULT_KILL_AFTER);
  return {
    executorId: e.PATCHBAY_EXECUTOR_ID ?? `executor-${hostname().replace(/[^A-Za-z0-9_.@-]/g, '-').slice(0, 80)}`,
    concurrency: e.PATCHBAY_EXECUTOR_CONCURRENCY,
    nice: e.PATCHBAY_EXECUTOR_NICE,
    resumeIntervalMs: e.PATCHBAY_EXECUTOR_RESUME_INTERVAL_MS,
    abortPollMs: e.PATCHBAY_EXECUTOR_ABORT_POLL_MS,
    rebootPollMs: e.PATCHBAY_EXECUTOR_REBOOT_POLL_MS,
    ackWaitMs: e.PATCHBAY_EXECUTOR_ACK_WAIT_MS,
    takeoverAfterMs: e.PATCHBAY_EXECUTOR_TAKEOVER_AFTER_MS,
    remoteProcessControl: e.PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL,
    rebootMarker: e.PATCHBAY_EXECUTOR_REBOOT_MARKER,
    connectTimeoutMs: e.PATCHBAY_EXECUTOR_CONNECT_TIMEOUT_MS,
    stopGraceMs: e.PATCHBAY_EXECUTOR_STOP_GRACE_MS,
    ...(e.PATCHBAY_EXECUTOR_DEFAULT_KEY_REF ? { defaultKeyRef: e.PATCHBAY_EXECUTOR_DEFAULT_KEY_REF } : {}),
    ...(fault ? { crashFault: fault } : {}),
  };
}
