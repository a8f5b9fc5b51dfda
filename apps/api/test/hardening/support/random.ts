/**
 * Seeded pseudo-random generators for the fuzzing and load tests (fast-check is not a dependency
 * of the api app). The seed is printed by the tests, so a failing run can be replayed with
 * `JOBTRAIL_FUZZ_SEED=<seed>`.
 */
export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** A float in [0, 1) (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
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
    const total = entries.reduce((sum, [w]) => sum + w, 0);
    let r = this.next() * total;
    for (const [w, v] of entries) {
      if (r < w) return v;
      r -= w;
    }
    return entries[entries.length - 1]![1];
  }

  /** `n` items drawn with replacement. */
  many<T>(n: number, make: () => T): T[] {
    return Array.from({ length: n }, make);
  }

  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(0, 15)];
    return s;
  }

  /** A UUID of version 1-8 with the RFC variant (what the API's `z.uuid()` accepts). */
  uuid(version = this.int(1, 8)): string {
    const variant = this.pick(['8', '9', 'a', 'b']);
    const upper = this.bool(0.1);
    const s = `${this.hex(8)}-${this.hex(4)}-${version}${this.hex(3)}-${variant}${this.hex(3)}-${this.hex(12)}`;
    return upper ? s.toUpperCase() : s;
  }

  /** A string of `length` characters drawn from `alphabet`. */
  string(alphabet: string, length: number): string {
    const chars = [...alphabet];
    let s = '';
    for (let i = 0; i < length; i++) s += this.pick(chars);
    return s;
  }

  /** An ISO-8601 date-time between 1970 and 2100, with or without milliseconds and offset. */
  isoDate(): string {
    const ms = this.int(0, 4_102_444_800_000);
    const iso = new Date(ms).toISOString();
    const form = this.int(0, 3);
    if (form === 0) return iso;
    if (form === 1) return iso.replace(/\.\d{3}Z$/, 'Z');
    const h = String(this.int(0, 14)).padStart(2, '0');
    const m = this.pick(['00', '30', '45']);
    return iso.replace('Z', `${this.pick(['+', '-'])}${h}:${m}`);
  }

  /** Text with characters that are awkward for servers: non-Latin, emoji, combining, RTL, quotes. */
  unicode(length: number): string {
    const pieces = [
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
    let s = '';
    while ([...s].length < length) s += this.pick(pieces);
    return [...s].slice(0, length).join('');
  }
}

/** The seed of this run: from `JOBTRAIL_FUZZ_SEED`, else the clock. */
export function runSeed(): number {
  const given = Number(process.env.JOBTRAIL_FUZZ_SEED);
  return Number.isInteger(given) && given > 0 ? given : Date.now() % 2_147_483_647;
}

/** A JSON Schema, as far as the API's documents use it. */
export interface JsonSchema {
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

/**
 * A string matching a simple regular expression: a sequence of character classes (`[a-z0-9_-]`),
 * `\d`, `\w`, or literal characters, each with an optional `*`, `+`, `?` or `{m,n}` quantifier,
 * between `^` and `$`. Returns null for anything more complex.
 */
export function sampleRegex(rng: Rng, pattern: string, maxLength = 64): string | null {
  if (!pattern.startsWith('^') || !pattern.endsWith('$')) return null;
  const body = pattern.slice(1, -1);
  const atoms: { chars: string; min: number; max: number }[] = [];
  let i = 0;
  const classChars = (spec: string): string => {
    let out = '';
    for (let j = 0; j < spec.length; j++) {
      const c = spec[j]!;
      if (c === '\\') {
        const e = spec[++j]!;
        out +=
          e === 'd' ? '0123456789' : e === 'w' ? 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_' : e;
      } else if (spec[j + 1] === '-' && j + 2 < spec.length) {
        const end = spec[j + 2]!;
        for (let code = c.charCodeAt(0); code <= end.charCodeAt(0); code++) out += String.fromCharCode(code);
        j += 2;
      } else out += c;
    }
    return out;
  };
  while (i < body.length) {
    let chars: string;
    const c = body[i]!;
    if (c === '[') {
      const end = body.indexOf(']', i + 1);
      if (end < 0 || body[i + 1] === '^') return null;
      chars = classChars(body.slice(i + 1, end));
      i = end + 1;
    } else if (c === '\\') {
      const e = body[i + 1]!;
      if (e === 'd') chars = '0123456789';
      else if (e === 'w') chars = classChars('a-zA-Z0-9_');
      else if (/[.\-+*?()[\]{}|^$\\/]/.test(e)) chars = e;
      else return null;
      i += 2;
    } else if ('()|.'.includes(c)) {
      return null;
    } else {
      chars = c;
      i += 1;
    }
    let min = 1;
    let max = 1;
    const q = body[i];
    if (q === '*' || q === '+' || q === '?') {
      min = q === '+' ? 1 : 0;
      max = q === '?' ? 1 : maxLength;
      i += 1;
    } else if (q === '{') {
      const end = body.indexOf('}', i);
      const [a, b] = body.slice(i + 1, end).split(',');
      min = Number(a);
      max = b === undefined ? min : b === '' ? maxLength : Number(b);
      i = end + 1;
    }
    atoms.push({ chars, min, max });
  }
  return atoms.map((a) => rng.string(a.chars, rng.int(a.min, Math.max(a.min, Math.min(a.max, a.min + 40))))).join('');
}

/** A value satisfying `schema` (the subset the API's request schemas use), or undefined if unsure. */
export function sampleSchema(rng: Rng, schema: JsonSchema): unknown {
  if (schema.enum) return rng.pick(schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return sampleSchema(rng, rng.pick(alternatives));
  const type = Array.isArray(schema.type) ? rng.pick(schema.type) : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        if (schema.required?.includes(name) || rng.bool(0.5)) out[name] = sampleSchema(rng, prop);
      }
      return out;
    }
    case 'array': {
      const min = schema.minItems ?? 0;
      const n = rng.int(min, Math.max(min, Math.min(schema.maxItems ?? 4, min + 3)));
      return rng.many(n, () => sampleSchema(rng, schema.items ?? { type: 'string' }));
    }
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? -1_000;
      const max = schema.maximum ?? 1_000;
      const edge = rng.int(0, 4);
      return edge === 0 ? min : edge === 1 ? max : rng.int(min, max);
    }
    case 'boolean':
      return rng.bool();
    case 'string': {
      if (schema.format === 'uuid') return rng.uuid();
      if (schema.format === 'date-time') return rng.isoDate();
      const minLength = schema.minLength ?? 0;
      const maxLength = schema.maxLength ?? 64;
      if (schema.pattern) {
        for (let tries = 0; tries < 20; tries++) {
          const s = sampleRegex(rng, schema.pattern, maxLength);
          if (s === null) return undefined;
          if (s.length >= minLength && s.length <= maxLength) return s;
        }
        return undefined;
      }
      const length = rng.pick([
        minLength,
        Math.max(minLength, 1),
        rng.int(minLength, Math.min(maxLength, minLength + 20)),
        maxLength,
      ]);
      return rng.bool(0.3) ? rng.unicode(length) : rng.string('abcdefghijklmnopqrstuvwxyz0123456789-_. ', length);
    }
    default:
      return undefined;
  }
}
