/** An account as an institution reports it. */
export interface InstitutionAccount {
  readonly externalId: string;
  readonly name: string;
  readonly currency: string;
  readonly balanceCents: number;
}

/** A transaction as an institution reports it. */
export interface InstitutionTransaction {
  readonly externalId: string;
  readonly accountExternalId: string;
  readonly amountCents: number;
  readonly description: string;
  readonly bookedAt: Date;
}

/** What a connector is given for one step of one attempt. */
export interface ConnectorContext {
  readonly loginId: string;
  /** Decrypted for this call only; never logged. */
  readonly password: string;
  /** 1-based attempt number of the job. */
  readonly attempt: number;
  /** Aborted when the job is cancelled, times out or the worker shuts down. */
  readonly signal: AbortSignal;
  /** Writes a line to the job's log. */
  log(message: string): void;
}

/** How a worker reaches one institution. */
export interface Connector {
  verifyCredentials(ctx: ConnectorContext): Promise<void>;
  retrieveAccounts(ctx: ConnectorContext): Promise<InstitutionAccount[]>;
  retrieveTransactions(
    ctx: ConnectorContext,
    accounts: readonly InstitutionAccount[],
  ): Promise<InstitutionTransaction[]>;
  /**
   * Whether the institution accepts this one-time code for the login's waiting challenge
   * (institutions without challenges refuse every code).
   */
  verifyOneTimeCode?(input: { readonly loginId: string; readonly code: string }): Promise<boolean>;
}

/**
 * An error reported by an institution: a catalogued code (or the institution's own), a detail
 * for this job, and — for codes the catalogue does not know — whether it may be retried.
 */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly retryable?: boolean,
  ) {
    super(`${code}: ${detail}`);
  }
}

/**
 * Thrown by a step when the institution asks the user for a one-time code: the job waits (no
 * worker, no lease) until `verifyOneTimeCode` accepts an answer, then continues after that step.
 */
export class ChallengeRequired extends Error {
  override readonly name = 'ChallengeRequired';
  constructor(readonly prompt: string) {
    super(`one-time code required: ${prompt}`);
  }
}

/** Connectors by institution id. */
export class ConnectorRegistry {
  private readonly connectors = new Map<string, Connector>();

  register(institutionId: string, connector: Connector): this {
    this.connectors.set(institutionId, connector);
    return this;
  }

  get(institutionId: string): Connector | null {
    return this.connectors.get(institutionId) ?? null;
  }

  /** The institutions connections can be made to. */
  institutionIds(): string[] {
    return [...this.connectors.keys()];
  }
}
