import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** `patchbay up` running as a child process, as an operator would run it. */
export interface RunningUp {
  child: ChildProcess;
  url: string;
  lines: string[];
  /** Resolves with the exit code once the CLI has exited. */
  exited: Promise<number | null>;
}

export const cliEntry = (): string => require.resolve('@patchbay/cli/dist/main.js');

/** Starts `patchbay up` with the given arguments and waits for the line naming the GraphQL URL. */
export async function startUp(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<RunningUp> {
  // This machine's own NATS_URL / EVENTSTORE_URL never leak in; a test may give its own in `env`.
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  delete inherited['NATS_URL'];
  delete inherited['EVENTSTORE_URL'];
  const childEnv: NodeJS.ProcessEnv = { ...inherited, LOG_LEVEL: 'warn', ...env };
  const child = spawn(process.execPath, [cliEntry(), 'up', ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`patchbay up printed no GraphQL URL in ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      const m = /^GraphQL: (\S+)/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`patchbay up exited with ${code} before it was ready:\n${lines.join('\n')}`));
    });
  });
  return { child, url, lines, exited };
}

/** Every descendant pid of `pid` (children, grandchildren, ...), read from /proc. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let tasks: string[] = [];
    try {
      tasks = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return;
    }
    for (const c of tasks.map(Number)) {
      out.push(c);
      visit(c);
    }
  };
  visit(pid);
  return out;
}

/** True while a process with this pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Posts a GraphQL query and returns the parsed body. */
export async function graphql<T = unknown>(url: string, query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await r.json()) as { data?: T };
}
