import { open, readFile, rm } from 'node:fs/promises';
import { isAlive } from './pids.js';

/**
 * Takes an exclusive lock file holding our pid and resolves with its release function. A lock left
 * behind by a dead process is taken over; a live holder is waited for.
 */
export async function takeLock(path: string): Promise<() => Promise<void>> {
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return async () => {
        await rm(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (holder && !isAlive(holder)) {
        await rm(path, { force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
