import { readFileSync } from 'node:fs';

/** A process the lab started, identified by pid and kernel start time so a reused pid is never hit. */
export interface RecordedProcess {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot). */
  startTime: number;
}

/** Kernel start time of `pid`, or undefined when it does not exist. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** Records `pid` with its start time. */
export function recordProcess(pid: number): RecordedProcess | undefined {
  const startTime = processStartTime(pid);
  return startTime === undefined ? undefined : { pid, startTime };
}

/** True when some process with this pid exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** True when the recorded process is still the one the lab started. */
export function isSameProcess(p: RecordedProcess | undefined): p is RecordedProcess {
  return !!p && isAlive(p.pid) && processStartTime(p.pid) === p.startTime;
}

/** Sends `signal` to a recorded process only if it is still the same process. */
export function signalRecorded(p: RecordedProcess | undefined, signal: NodeJS.Signals): boolean {
  if (!isSameProcess(p)) return false;
  try {
    process.kill(p.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Direct children of `pid` (from /proc/<pid>/task/<pid>/children). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Short command name of a process. */
export function commName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
