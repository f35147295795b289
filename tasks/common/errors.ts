/**
 * An error the pipeline author can fix: bad input, a missing permission, a policy violation.
 * Its message says what to change; the entry turns it into a Failed result without a stack trace.
 */
export class UserError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

/**
 * Also true for a UserError thrown by a task's lazily loaded bundle, which has its own copy of this class
 * (see scripts/build.mjs): the name is the test there.
 */
export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError || (err instanceof Error && err.name === 'UserError');
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
