/** What one check concluded, in the shape the text and JSON reports print. */
export type Status = 'PASS' | 'WARN' | 'FAIL' | 'SKIP'

export interface Evidence {
  /** The request that showed it: `GET /path` plus the request headers that matter (never a secret). */
  request: string
  /** The header, status or pattern seen; cookie values and tokens are redacted. */
  observed: string
}

export interface Finding {
  /** Stable, e.g. `headers.nosniff.json`: CI may key on it. */
  id: string
  /** The OWASP ASVS 5.0 requirement the check verifies, e.g. `V3.4.4`. */
  asvs: string
  status: Status
  title: string
  /** Why this status, in one sentence (for SKIP: why the check could not apply). */
  detail: string
  evidence: Evidence
  /** One sentence: what to change to make it PASS. */
  fix: string
}

/** A check's promise: its id, requirement, title and fix never change between runs. */
export interface FindingSpec {
  id: string
  asvs: string
  title: string
  fix: string
  /** What PASS means, for docs/audit.md and `--help`. */
  passMeans: string
}

export function finding(spec: FindingSpec, status: Status, detail: string, evidence: Evidence): Finding {
  return { id: spec.id, asvs: spec.asvs, status, title: spec.title, detail, evidence, fix: spec.fix }
}

export function skipped(spec: FindingSpec, detail: string, request = '-'): Finding {
  return finding(spec, 'SKIP', detail, { request, observed: '-' })
}

const ORDER: Record<Status, number> = { PASS: 0, SKIP: 1, WARN: 2, FAIL: 3 }

/** The most severe of several statuses (FAIL > WARN > SKIP > PASS). */
export function worst(statuses: readonly Status[]): Status {
  return statuses.reduce<Status>((a, b) => (ORDER[b] > ORDER[a] ? b : a), 'PASS')
}

export interface Summary {
  pass: number
  warn: number
  fail: number
  skip: number
}

export function summarize(findings: readonly Finding[]): Summary {
  const summary: Summary = { pass: 0, warn: 0, fail: 0, skip: 0 }
  for (const { status } of findings) summary[status.toLowerCase() as keyof Summary]++
  return summary
}

export interface AuditReport {
  target: string
  startedAt: string
  finishedAt: string
  /** Requests sent, out of the budget. */
  requestsUsed: number
  requestBudget: number
  /** null when every check ran; else why the run stopped early ('deadline' or 'budget'). */
  incomplete: 'deadline' | 'budget' | null
  findings: Finding[]
  summary: Summary
}
