/**
 * One worker process of the scaling bench: a WorkerRuntime with the no-op institution on the
 * database named by argv (a PostgreSQL URL), at the concurrency given. It tells its parent when it
 * has started and when its first job reached the connector, and stops on SIGTERM.
 */
import { startWorker, type Scratch } from './jobtrail.js';
import { noopConnector } from './jobtrail.js';

const [url, concurrencyArg, dataDir] = process.argv.slice(2);
if (!url || !concurrencyArg || !dataDir) throw new Error('usage: drain-worker <pg-url> <concurrency> <data-dir>');
const send = (msg: unknown) => process.send?.(msg);
let first = true;
const s: Scratch = { database: { kind: 'postgres', url }, dataDir, cleanup: async () => undefined };
const worker = await startWorker(
  s,
  Number(concurrencyArg),
  noopConnector(() => {
    if (!first) return;
    first = false;
    send({ type: 'first', at: Date.now() });
  }),
);
send({ type: 'ready' });
process.once('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
