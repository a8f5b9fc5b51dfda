import { stepsOf, type JobAction, type JobStatus } from '@jobtrail/domain';

/** A job as the model expects it. */
export interface ModelJob {
  readonly id: string;
  readonly connectionId: string;
  readonly action: JobAction;
  readonly retryOf: string | null;
  /** Creation order (the queue's order on a connection). */
  readonly seq: number;
  status: JobStatus;
  attempt: number;
  cancelRequested: boolean;
  errorCode: string | null;
  /** Steps of the current attempt that succeeded (meaningful while processing). */
  stepsDone: number;
  /** `from>to` of every status change, oldest first. */
  transitions: string[];
}

export const TERMINAL: readonly JobStatus[] = ['success', 'failed', 'cancelled'];
export const isTerminal = (s: JobStatus) => TERMINAL.includes(s);

/**
 * The model of one tenant's connections and jobs: the domain state machine, the queue order
 * (one processing job per connection, the oldest pending one next) and the API's dedup rule
 * (one pending/processing job per connection and action).
 */
export class JobModel {
  readonly connections: string[] = [];
  readonly jobs: ModelJob[] = [];
  private seq = 0;

  constructor(readonly maxAttempts: number) {}

  addConnection(id: string): void {
    this.connections.push(id);
  }

  addJob(id: string, connectionId: string, action: JobAction, retryOf: string | null): ModelJob {
    const job: ModelJob = {
      id,
      connectionId,
      action,
      retryOf,
      seq: this.seq++,
      status: 'pending',
      attempt: 0,
      cancelRequested: false,
      errorCode: null,
      stepsDone: 0,
      transitions: [],
    };
    this.jobs.push(job);
    return job;
  }

  job(id: string): ModelJob | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  /** The pending or processing job of this action on the connection (the API answers it with 200). */
  active(connectionId: string, action: JobAction): ModelJob | undefined {
    return this.jobs.find(
      (j) =>
        j.connectionId === connectionId && j.action === action && (j.status === 'pending' || j.status === 'processing'),
    );
  }

  processing(): ModelJob[] {
    return this.jobs.filter((j) => j.status === 'processing');
  }

  /** What a worker may claim now: per connection with nothing processing, its oldest pending job. */
  claimable(): ModelJob[] {
    const out: ModelJob[] = [];
    for (const c of this.connections) {
      const jobs = this.jobs.filter((j) => j.connectionId === c);
      if (jobs.some((j) => j.status === 'processing')) continue;
      const next = jobs.filter((j) => j.status === 'pending').sort((a, b) => a.seq - b.seq)[0];
      if (next && next.attempt < this.maxAttempts) out.push(next);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** A connection's history as the API lists it: newest first. */
  history(connectionId: string): ModelJob[] {
    return this.jobs.filter((j) => j.connectionId === connectionId).sort((a, b) => b.seq - a.seq);
  }

  private move(job: ModelJob, to: JobStatus): void {
    job.transitions.push(`${job.status}>${to}`);
    job.status = to;
  }

  claim(job: ModelJob): void {
    this.move(job, 'processing');
    job.attempt++;
    job.stepsDone = 0;
    job.errorCode = null;
  }

  /** POST /jobs/:id/cancel: the answer's status code, and what it does. */
  cancel(job: ModelJob): 200 | 202 | 409 {
    if (job.status === 'pending') {
      this.move(job, 'cancelled');
      job.cancelRequested = true;
      job.errorCode = 'cancelled';
      return 200;
    }
    if (job.status === 'processing' && !job.cancelRequested) {
      job.cancelRequested = true;
      return 202;
    }
    return 409;
  }

  /** The worker's next move at a step boundary: a step, a stop on cancel, or the end. */
  advance(job: ModelJob): 'step' | 'cancelled' | 'success' {
    const steps = stepsOf(job.action).length;
    if (job.stepsDone < steps) {
      if (job.cancelRequested) {
        this.move(job, 'cancelled');
        job.errorCode = 'cancelled';
        return 'cancelled';
      }
      job.stepsDone++;
      return 'step';
    }
    this.move(job, 'success');
    return 'success';
  }

  /**
   * An error while processing (`eventForError`): a retryable one with attempts left requeues, or
   * stops the job when a cancel was requested; anything else fails it.
   */
  error(job: ModelJob, code: string, retryable: boolean): JobStatus {
    if (retryable && job.attempt < this.maxAttempts) {
      if (job.cancelRequested) {
        this.move(job, 'cancelled');
        job.errorCode = 'cancelled';
      } else {
        this.move(job, 'pending');
        job.errorCode = code;
      }
    } else {
      this.move(job, 'failed');
      job.errorCode = code;
    }
    job.stepsDone = 0;
    return job.status;
  }
}
