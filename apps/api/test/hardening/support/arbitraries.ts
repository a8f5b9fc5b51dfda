/**
 * Random inputs for the hardening suite, drawn with fast-check. Tests that draw many values in a
 * row (fuzzing, the canary's mix of mistakes) use {@link Draw} over fast-check's `gen()`: every
 * value comes from fast-check's seeded generator, so a run replays from its seed (and `path`,
 * which fast-check prints with a failure), and draws made inside a property shrink.
 */
import fc from 'fast-check';

/** The seed of this run: `JOBTRAIL_FUZZ_SEED` to replay one, else a fresh one (printed by the tests). */
export function runSeed(): number {
  const given = Number(process.env.JOBTRAIL_FUZZ_SEED);
  return Number.isInteger(given) && given !== 0 ? given : Math.floor(Math.random() * 2 ** 31) + 1;
}

/** fast-check parameters of a run: its seed, and `JOBTRAIL_FUZZ_PATH` to replay a reported path. */
export function runParameters(seed: number): { seed: number; path?: string } {
  const path = process.env.JOBTRAIL_FUZZ_PATH;
  return path ? { seed, path } : { seed };
}

/**
 * Imperative draws from a fast-check generator (`fc.gen()`), unbiased so that the proportions
 * written in the tests (`bool(0.3)`, weights) are the ones used.
 */
export class Draw {
  constructor(private readonly g: fc.GeneratorValue) {}

  /** A draw outside any property, replayable from `seed` (for tests whose checks are not one property). */
  static seeded(seed: number): Draw {
    const [g] = fc.sample(fc.gen(), { seed, numRuns: 1 });
    return new Draw(g!);
  }

  /** Any value of an arbitrary. */
  of<T>(arb: fc.Arbitrary<T>): T {
    return this.g(() => fc.noBias(arb));
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return this.of(fc.integer({ min, max }));
  }

  /** A float in [0, 1). */
  next(): number {
    return this.int(0, 2 ** 30 - 1) / 2 ** 30;
  }

  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[this.int(0, items.length - 1)]!;
  }

  /** One of the entries, with probability proportional to its weight. */
  weighted<T>(entries: ReadonlyArray<readonly [number, T]>): T {
    return this.of(fc.oneof(...entries.map(([weight, v]) => ({ weight, arbitrary: fc.constant(v) }))));
  }

  /** `n` items drawn with replacement. */
  many<T>(n: number, make: () => T): T[] {
    return Array.from({ length: n }, make);
  }

  /** A string of `length` characters drawn from `alphabet`. */
  string(alphabet: string, length: number): string {
    if (length === 0) return '';
    return this.of(fc.string({ unit: fc.constantFrom(...alphabet), minLength: length, maxLength: length }));
  }

  hex(n: number): string {
    return this.string('0123456789abcdef', n);
  }

  /** A UUID of version 1-8 with the RFC variant (what the API's `z.uuid()` accepts), sometimes upper case. */
  uuid(version = this.int(1, 8)): string {
    const variant = this.pick(['8', '9', 'a', 'b']);
    const upper = this.bool(0.1);
    const s = `${this.hex(8)}-${this.hex(4)}-${version}${this.hex(3)}-${variant}${this.hex(3)}-${this.hex(12)}`;
    return upper ? s.toUpperCase() : s;
  }

  /** An ISO-8601 date-time between 1970 and 2100, with or without milliseconds and offset. */
  isoDate(): string {
    const iso = new Date(this.int(0, 4_102_444_800_000)).toISOString();
    const form = this.int(0, 3);
    if (form === 0) return iso;
    if (form === 1) return iso.replace(/\.\d{3}Z$/, 'Z');
    const h = String(this.int(0, 14)).padStart(2, '0');
    const m = this.pick(['00', '30', '45']);
    return iso.replace('Z', `${this.pick(['+', '-'])}${h}:${m}`);
  }

  /** Text with characters that are awkward for servers: non-Latin, emoji, combining, RTL, quotes. */
  unicode(length: number): string {
    const pieces = this.of(fc.array(fc.constantFrom(...AWKWARD), { minLength: length, maxLength: length }));
    return [...pieces.join('')].slice(0, length).join('');
  }

  /** A string matching a regular expression (fast-check's `stringMatching`), at most `maxLength` long. */
  matching(pattern: string, maxLength: number): string {
    return this.of(fc.stringMatching(new RegExp(pattern), { size: maxLength > 64 ? 'medium' : 'small' }));
  }
}

const AWKWARD = [
  '\ud800',
  'é',
  'ß',
  'Ω',
  '中文',
  '🙂',
  '👩‍💻',
  'e\u0301',
  '\u202eRTL',
  'ﷺ',
  '\u00a0',
  '"',
  "'",
  '\\',
  '<script>',
  '%00',
  '${x}',
  '{{x}}',
  "' OR 1=1 --",
  'ǅ',
  '\u2028',
  '\ufeff',
  'a',
];

/** A JSON Schema, as far as the API's documents use it. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

/** A value satisfying `schema` (the subset the API's request schemas use), or undefined if unsure. */
export function sampleSchema(d: Draw, schema: JsonSchema): unknown {
  if (schema.enum) return d.pick(schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return sampleSchema(d, d.pick(alternatives));
  const type = Array.isArray(schema.type) ? d.pick(schema.type) : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        if (schema.required?.includes(name) || d.bool(0.5)) out[name] = sampleSchema(d, prop);
      }
      return out;
    }
    case 'array': {
      const min = schema.minItems ?? 0;
      const n = d.int(min, Math.max(min, Math.min(schema.maxItems ?? 4, min + 3)));
      return d.many(n, () => sampleSchema(d, schema.items ?? { type: 'string' }));
    }
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? -1_000;
      const max = schema.maximum ?? 1_000;
      const edge = d.int(0, 4);
      return edge === 0 ? min : edge === 1 ? max : d.int(min, max);
    }
    case 'boolean':
      return d.bool();
    case 'string': {
      if (schema.format === 'uuid') return d.uuid();
      if (schema.format === 'date-time') return d.isoDate();
      const minLength = schema.minLength ?? 0;
      const maxLength = schema.maxLength ?? 64;
      if (schema.pattern) {
        for (let tries = 0; tries < 20; tries++) {
          const s = d.matching(schema.pattern, maxLength);
          if (s.length >= minLength && s.length <= maxLength) return s;
        }
        return undefined;
      }
      const length = d.pick([
        minLength,
        Math.max(minLength, 1),
        d.int(minLength, Math.min(maxLength, minLength + 20)),
        maxLength,
      ]);
      return d.bool(0.3) ? d.unicode(length) : d.string('abcdefghijklmnopqrstuvwxyz0123456789-_. ', length);
    }
    default:
      return undefined;
  }
}
