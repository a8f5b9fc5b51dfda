import { problemStatus, problemTitle, type FieldError, type ProblemCode } from '@jobtrail/domain';

/** The one error type of the API: a problem code (see the domain's PROBLEM_CODES) and its details. */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  readonly status: number;
  constructor(
    readonly code: ProblemCode,
    readonly detail?: string,
    readonly extras: {
      readonly errors?: readonly FieldError[];
      readonly headers?: Readonly<Record<string, string>>;
    } = {},
  ) {
    super(detail ?? problemTitle(code));
    this.status = problemStatus(code);
  }

  static notFound(what: string): ApiProblem {
    return new ApiProblem('not-found', `${what} not found`);
  }

  static validation(
    errors: readonly FieldError[],
    detail = 'The request does not match the API contract; see `errors`.',
  ): ApiProblem {
    return new ApiProblem('validation-failed', detail, { errors });
  }
}
