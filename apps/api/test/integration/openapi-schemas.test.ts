/**
 * A document clients can use: it validates as OpenAPI 3.1, its schemas are named under
 * `components.schemas`, the answers of the job, connection and key endpoints are `$ref`s to them
 * (so generated clients get named types), and the codes are enums.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { JOB_ERROR_CODES, PROBLEM_CODES } from '@jobtrail/domain';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';

type Json = Record<string, unknown>;
interface Doc {
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, Json> }>>;
  components: { schemas: Record<string, Json> };
}

const VALIDATOR = fileURLToPath(new URL('../support/validate-openapi.mjs', import.meta.url));

/** swagger-parser's verdict on a document: null when valid, else its message. */
function validationError(doc: unknown): string | null {
  const res = spawnSync(process.execPath, [VALIDATOR], { input: JSON.stringify(doc), encoding: 'utf8' });
  return res.status === 0 ? null : res.stderr || `exit ${res.status}`;
}

const REF = /^#\/components\/schemas\/(\w+)$/;

/** The component an answer's schema names: `$ref` X, or an array of `$ref` X; null otherwise. */
function namedComponent(schema: Json | undefined): string | null {
  if (!schema) return null;
  const ref = typeof schema.$ref === 'string' ? schema : schema.type === 'array' ? (schema.items as Json) : null;
  const m = typeof ref?.$ref === 'string' ? REF.exec(ref.$ref) : null;
  return m?.[1] ?? null;
}

describe('OpenAPI document: named schemas', () => {
  let t: TestApp;
  let doc: Doc;
  beforeAll(async () => {
    t = await startTestApp('sqlite');
    doc = (await request(t.server).get('/api/docs/openapi.json').expect(200)).body as Doc;
  });
  afterAll(() => t.close());

  it('validates as OpenAPI 3.1 (and the validator does refuse a broken document)', () => {
    expect(validationError(doc)).toBeNull();
    const broken = structuredClone(doc);
    broken.paths['/jobs/{job_id}']!.get!.responses['200'] = {
      description: 'OK',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/NoSuchThing' } } },
    };
    expect(validationError(broken)).toMatch(/NoSuchThing|resolve|\$ref/i);
  });

  it('names its schemas, and every answer body of the job, connection and key endpoints is a $ref to one', () => {
    const names = Object.keys(doc.components.schemas);
    expect(names).toEqual(
      expect.arrayContaining(['JobSummary', 'JobDetail', 'Connection', 'Problem', 'JobLogLine', 'ApiKey', 'Health']),
    );
    const inline: string[] = [];
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          for (const [type, media] of Object.entries((response.content ?? {}) as Record<string, { schema: Json }>)) {
            if (!type.endsWith('json')) continue;
            const where = `${method.toUpperCase()} ${path} ${status} ${type}`;
            const name = namedComponent(media.schema);
            const mustBeNamed = /^\/(jobs|connections|keys)\b/.test(path) || status >= '400';
            if (!mustBeNamed) continue;
            checked += 1;
            if (name === null || !names.includes(name)) inline.push(`${where}: ${JSON.stringify(media.schema)}`);
            if (type === 'application/problem+json' && name !== 'Problem')
              inline.push(`${where}: a problem is not a Problem`);
          }
        }
      }
    }
    expect(inline).toEqual([]);
    expect(checked).toBeGreaterThan(100);
    // Nested uses are references too: a job summary inside a connection, a job error inside a summary.
    const connection = doc.components.schemas.Connection!.properties as Record<string, Json>;
    expect(JSON.stringify(connection.latest_job)).toContain('#/components/schemas/JobSummary');
    const summary = doc.components.schemas.JobSummary!.properties as Record<string, Json>;
    expect(JSON.stringify(summary.error)).toContain('#/components/schemas/JobError');
  });

  it('gives problem codes and job error codes as enums', () => {
    expect(doc.components.schemas.ProblemCode).toMatchObject({ type: 'string', enum: [...PROBLEM_CODES] });
    expect(doc.components.schemas.JobErrorCode).toMatchObject({ type: 'string', enum: [...JOB_ERROR_CODES] });
    const problem = doc.components.schemas.Problem!.properties as Record<string, Json>;
    expect(problem.code).toEqual({ $ref: '#/components/schemas/ProblemCode' });
    const jobError = doc.components.schemas.JobError!.properties as Record<string, Json>;
    expect(JSON.stringify(jobError.code)).toContain('#/components/schemas/JobErrorCode');
  });

  it('describes every field of a job and a connection', () => {
    const undescribed: string[] = [];
    for (const name of ['JobSummary', 'JobDetail', 'JobStep', 'JobTransition', 'JobError', 'Connection', 'ApiKey']) {
      const schema = doc.components.schemas[name]!;
      for (const [field, prop] of Object.entries(schema.properties as Record<string, Json>))
        if (typeof prop.description !== 'string' || prop.description.length < 5) undescribed.push(`${name}.${field}`);
    }
    // Worker internals are not part of a tenant's job.
    const detail = doc.components.schemas.JobDetail!.properties as Json;
    expect(Object.keys(detail)).not.toEqual(expect.arrayContaining(['lease_owner']));
    expect(Object.keys(detail)).not.toEqual(expect.arrayContaining(['lease_expires_at']));
    expect(undescribed).toEqual([]);
  });

  it("describes /health's body as it is sent", async () => {
    const body = (await request(t.server).get('/api/health').expect(200)).body as Json;
    const health = doc.components.schemas.Health!;
    expect(Object.keys(body).sort()).toEqual(Object.keys(health.properties as Json).sort());
    const database = (health.properties as Record<string, Json>).database!;
    expect(Object.keys(body.database as Json).sort()).toEqual(Object.keys(database.properties as Json).sort());
    expect(doc.paths['/health']!.get!.responses['200']!.content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/Health' } },
    });
  });
});
