import type { AuditReport, Status } from './finding.ts'

const COLOURS: Record<Status, string> = {
  PASS: '\x1b[32m',
  WARN: '\x1b[33m',
  FAIL: '\x1b[31m',
  SKIP: '\x1b[2m',
}
const RESET = '\x1b[0m'

/** Colour only for a terminal, and never when NO_COLOR is set to anything (no-color.org). */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length)
}

/** A table of every finding, then the evidence and fix of each that is not PASS, then the totals. */
export function reportText(report: AuditReport, colour = false): string {
  const paint = (status: Status, text: string) => (colour ? `${COLOURS[status]}${text}${RESET}` : text)
  const idWidth = Math.max(2, ...report.findings.map((f) => f.id.length))
  const asvsWidth = Math.max(4, ...report.findings.map((f) => f.asvs.length))
  const lines = [
    `Gatehouse audit of ${report.target}`,
    `started ${report.startedAt}, ${report.requestsUsed} of ${report.requestBudget} requests${report.incomplete ? `, INCOMPLETE (${report.incomplete})` : ''}`,
    '',
    `${pad('STATUS', 6)}  ${pad('ID', idWidth)}  ${pad('ASVS', asvsWidth)}  TITLE`,
  ]
  for (const f of report.findings) {
    lines.push(
      `${paint(f.status, pad(f.status, 6))}  ${pad(f.id, idWidth)}  ${pad(f.asvs, asvsWidth)}  ${f.title}`,
    )
  }
  const notable = report.findings.filter((f) => f.status !== 'PASS')
  if (notable.length > 0) lines.push('', 'Details')
  for (const f of notable) {
    lines.push('', `${paint(f.status, f.status)} ${f.id} (${f.asvs}): ${f.detail}`)
    if (f.evidence.request !== '-') lines.push(`  request:  ${f.evidence.request}`)
    if (f.evidence.observed !== '-') lines.push(`  observed: ${f.evidence.observed}`)
    if (f.status !== 'SKIP') lines.push(`  fix:      ${f.fix}`)
  }
  const { pass, warn, fail, skip } = report.summary
  lines.push('', `${pass} pass, ${warn} warn, ${fail} fail, ${skip} skip`)
  return `${lines.join('\n')}\n`
}
