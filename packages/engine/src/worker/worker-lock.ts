import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** SQLite has one writer: a second worker process on the same file would only fight over it. */
export class WorkerLockError extends Error {
  override readonly name = 'WorkerLockError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the data folder's worker lock (a file holding the pid), or throws when a live process
 * holds it. A lock left by a killed process is taken over. Returns the release function.
 */
export function acquireSqliteWorkerLock(dataDir: string): () => void {
  const file = join(dataDir, 'worker.lock');
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new WorkerLockError(
          `Another Jobtrail worker (pid ${pid}) is running on the SQLite database in ${dataDir}. SQLite mode runs one worker process; ` +
            'stop it, start this process with JOBTRAIL_ROLE=api, or use PostgreSQL (DATABASE_URL) to run several workers.',
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new WorkerLockError(`Could not take the worker lock in ${dataDir}.`);
}
