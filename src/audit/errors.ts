/** Why the audit could not run or went on no further; the CLI maps these to exit code 2. */
export class AuditUsageError extends Error {
  override name = 'AuditUsageError'
}

/** The target could not be reached or did not answer in time. */
export class TargetUnreachableError extends Error {
  override name = 'TargetUnreachableError'
}

/** Every request of the budget is spent: the remaining checks are skipped. */
export class BudgetExhaustedError extends Error {
  override name = 'BudgetExhaustedError'
}

/** The total time bound passed: the remaining checks are skipped. */
export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError'
}
