/**
 * Model-based runs with fast-check: sequences of command intents (`fc.array` of an intent
 * arbitrary) run from scratch against the system and a model; a failing sequence is shrunk by
 * fast-check (shorter sequences, simpler intents) and reported with the `seed` and `path` that
 * replay it (MODEL_SEED=<seed> MODEL_PATH=<path>).
 */
import fc from 'fast-check';

/** What one run records: a line per command, as it was resolved against the model. */
export type RunLog = string[];

export interface ModelCheckOptions<I> {
  readonly seed: number;
  /** A path reported by a failure, to replay exactly that run (and its shrinking) first. */
  readonly path?: string;
  readonly runs: number;
  /** Commands per run: 1..maxCommands. */
  readonly maxCommands: number;
  /** One command intent. */
  readonly intent: fc.Arbitrary<I>;
  /**
   * Runs the intents from a fresh state against the system and the model; throws at the first
   * mismatch. Pushes one line per command to `log` before running it.
   */
  execute(intents: readonly I[], log: RunLog): Promise<void>;
}

/** Totals of a check, for the figures (runs of the generation phase, not of shrinking). */
export interface ModelCheckStats {
  runs: number;
  commands: number;
}

/** Runs `runs` random command sequences; throws fast-check's report of the smallest failing one. */
export async function checkModel<I>(opts: ModelCheckOptions<I>): Promise<ModelCheckStats> {
  const stats: ModelCheckStats = { runs: 0, commands: 0 };
  let failed = false;
  await fc.assert(
    // `size: 'max'`: lengths spread over 1..maxCommands (fast-check's default keeps arrays short).
    fc.asyncProperty(
      fc.array(opts.intent, { minLength: 1, maxLength: opts.maxCommands, size: 'max' }),
      async (intents) => {
        const log: RunLog = [];
        try {
          await opts.execute(intents, log);
        } catch (err) {
          failed = true;
          const message = err instanceof Error ? err.message : String(err);
          // fast-check reports the error of the smallest failing sequence: with the commands it ran.
          throw new Error(
            [message, `commands run (${log.length}):`, ...log.map((l, i) => `  ${i + 1}. ${l}`)].join('\n'),
          );
        }
        if (!failed) {
          stats.runs += 1;
          stats.commands += intents.length;
        }
      },
    ),
    { seed: opts.seed, numRuns: opts.runs, ...(opts.path ? { path: opts.path } : {}) },
  );
  return stats;
}
