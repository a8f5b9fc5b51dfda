/**
 * A small seeded stand-in for fast-check's `fc.commands` + `fc.asyncModelRun` (fast-check is a
 * dependency of packages/domain only, and apps/api cannot import it): sequences of command
 * intents drawn from a seeded generator, run from scratch against the system and a model, and on
 * failure shrunk by dropping commands while the run still fails. Failures name the seed, so a run
 * replays exactly with MODEL_SEED=<seed>.
 */

export { Rng } from '../support/random.js';
import { Rng } from '../support/random.js';

/** What one run records: a line per command, as it was resolved against the model. */
export type RunLog = string[];

export interface ModelCheckOptions<I> {
  /** The first run's seed; run i uses seed + i. */
  readonly seed: number;
  readonly runs: number;
  /** Commands per run: 1..maxCommands. */
  readonly maxCommands: number;
  /** Draws one command intent. */
  generate(rng: Rng): I;
  /**
   * Runs the intents from a fresh state against the system and the model; throws at the first
   * mismatch. Pushes one line per command to `log` before running it.
   */
  execute(intents: readonly I[], log: RunLog): Promise<void>;
  /** Most re-runs spent shrinking a failure. */
  readonly maxShrinks?: number;
}

/** Totals of a check, for the figures. */
export interface ModelCheckStats {
  runs: number;
  commands: number;
}

async function fails<I>(
  opts: ModelCheckOptions<I>,
  intents: readonly I[],
): Promise<{ error: Error; log: RunLog } | null> {
  const log: RunLog = [];
  try {
    await opts.execute(intents, log);
    return null;
  } catch (err) {
    return { error: err instanceof Error ? err : new Error(String(err)), log };
  }
}

/** Runs `runs` random command sequences; on failure, shrinks it and throws with the seed and the shortest failing sequence. */
export async function checkModel<I>(opts: ModelCheckOptions<I>): Promise<ModelCheckStats> {
  const stats: ModelCheckStats = { runs: 0, commands: 0 };
  for (let run = 0; run < opts.runs; run++) {
    const seed = (opts.seed + run) >>> 0;
    const rng = new Rng(seed);
    const length = rng.int(1, opts.maxCommands);
    const intents = Array.from({ length }, () => opts.generate(rng));
    const failure = await fails(opts, intents);
    stats.runs++;
    if (!failure) {
      stats.commands += length;
      continue;
    }
    // Shrink: only the commands up to the failing one matter; then drop chunks, then single ones.
    let best = intents.slice(0, failure.log.length);
    let bestFailure = failure;
    let budget = opts.maxShrinks ?? 150;
    for (
      let chunk = Math.max(1, Math.floor(best.length / 2));
      chunk >= 1 && budget > 0;
      chunk = chunk === 1 ? 0 : Math.max(1, Math.floor(chunk / 2))
    ) {
      for (let i = 0; i + chunk <= best.length && budget > 0;) {
        const candidate = [...best.slice(0, i), ...best.slice(i + chunk)];
        budget--;
        const f = candidate.length > 0 ? await fails(opts, candidate) : null;
        if (f) {
          best = candidate.slice(0, f.log.length);
          bestFailure = f;
        } else i++;
      }
    }
    throw new Error(
      [
        `model run failed (seed ${seed}; replay with MODEL_SEED=${seed} MODEL_RUNS=1): ${bestFailure.error.message}`,
        `shortest failing sequence found (${best.length} of ${length} commands):`,
        ...bestFailure.log.map((l, i) => `  ${i + 1}. ${l}`),
        `original failure: ${failure.error.message.split('\n')[0]}`,
      ].join('\n'),
    );
  }
  return stats;
}
