import { describe, expect, it } from '@jest/globals';
import { FULL_JOB_ID, JOB_ID_PREFIX, normaliseJobQuery } from '../src/search/normalise-job-query.js';

const ID = '01a22885-6ede-7000-85e0-911490e2bd26';

describe('normaliseJobQuery', () => {
  it.each([
    [ID, ID],
    [`  ${ID}  `, ID],
    [`\t${ID}\n`, ID],
    [ID.toUpperCase(), ID],
    ['01a22885…', '01a22885'],
    ['01a22885...', '01a22885'],
    ['01a22885……', '01a22885'],
    ['…911490e2bd26', '911490e2bd26'],
    ['...01a22885', '01a22885'],
    ['  01a22885…  ', '01a22885'],
    ['job 01a22885…', '01a22885'],
    ['Job 01a22885', '01a22885'],
    ['job:01a22885', '01a22885'],
    ['job: 01a22885…', '01a22885'],
    ['JOB: 01A22885', '01a22885'],
    ['job_id 01a22885', '01a22885'],
    ['job_id=01a22885', '01a22885'],
    ['job_id: 01a22885...', '01a22885'],
    ['job id 01a22885', '01a22885'],
    ['job-id: 01a22885', '01a22885'],
    ['job #01a22885', '01a22885'],
    [`job ${ID}`, ID],
    ['"01a22885…"', '01a22885'],
    ['`01a22885`', '01a22885'],
    ['job: `01a22885…`', '01a22885'],
    ['“01a22885”', '01a22885'],
  ])('%j → %j', (input, expected) => {
    expect(normaliseJobQuery(input)).toBe(expected);
  });

  it('leaves what cannot be a job id recognisably invalid, rather than guessing', () => {
    for (const input of ['not an id', 'jobs 01a2', 'connection 01a2', '01a2 2885', '', '   ', '…', 'job']) {
      expect(JOB_ID_PREFIX.test(normaliseJobQuery(input))).toBe(false);
    }
  });

  it('gives full ids and prefixes the shapes the search box acts on', () => {
    expect(FULL_JOB_ID.test(normaliseJobQuery(` job ${ID.toUpperCase()}… `))).toBe(true);
    expect(FULL_JOB_ID.test(normaliseJobQuery('01a22885…'))).toBe(false);
    expect(JOB_ID_PREFIX.test(normaliseJobQuery('01a22885…'))).toBe(true);
  });
});
