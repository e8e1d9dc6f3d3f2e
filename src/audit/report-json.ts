import type { AuditReport } from './finding.ts'

/** The --json output: { target, startedAt, findings, summary } plus the run's bounds; one document. */
export function reportJson(report: AuditReport): string {
  const { target, startedAt, finishedAt, requestsUsed, requestBudget, incomplete, findings, summary } = report
  return `${JSON.stringify({ target, startedAt, finishedAt, requestsUsed, requestBudget, incomplete, findings, summary }, null, 2)}\n`
}
