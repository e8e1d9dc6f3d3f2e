import type { AuditContext } from '../context.ts'
import type { Finding, FindingSpec } from '../finding.ts'

/**
 * One concept of the audit. `specs` lists every finding it can yield: a spec it does not emit
 * (the check stopped early, or did not apply) is reported as SKIP, so every id is in every report.
 */
export interface Check {
  name: string
  specs: readonly FindingSpec[]
  /** null when the check can run, else why not (every spec is then SKIP with this reason). */
  applies?(context: AuditContext): string | null
  run(context: AuditContext, emit: (finding: Finding) => void): Promise<void>
}
