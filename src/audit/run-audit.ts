import type { Check } from './checks/check.ts'
import { ANONYMOUS_CHECKS, SESSION_CHECKS } from './checks/index.ts'
import { type AuditContext, newMarker } from './context.ts'
import { BudgetExhaustedError, DeadlineExceededError, TargetUnreachableError } from './errors.ts'
import { type AuditReport, type Finding, skipped, summarize } from './finding.ts'
import { HttpProbe } from './http-probe.ts'
import type { AuditOptions } from './options.ts'
import { collectSamples } from './samples.ts'
import { signIn } from './session.ts'

export interface AuditHooks {
  /** Before each request: which check runs, requests used and the budget (the progress line). */
  onProgress?(check: string, used: number, budget: number): void
}

const STOPPED: Record<'deadline' | 'budget', string> = {
  deadline: 'not run: the audit deadline passed (--deadline)',
  budget: 'not run: the request budget was spent (--budget)',
}

function stopReason(error: unknown): 'deadline' | 'budget' | null {
  if (error instanceof DeadlineExceededError) return 'deadline'
  if (error instanceof BudgetExhaustedError) return 'budget'
  return null
}

/**
 * Runs every check against `options.target` and returns the report. Throws AuditUsageError (a
 * refused --login) or TargetUnreachableError (the first request got no answer): no report then.
 */
export async function runAudit(options: AuditOptions, hooks: AuditHooks = {}): Promise<AuditReport> {
  const startedAt = new Date()
  const probe = new HttpProbe(options.target, {
    budget: options.budget,
    timeoutMs: options.timeoutMs,
    deadline: startedAt.getTime() + options.deadlineMs,
  })
  const context: AuditContext = {
    probe,
    options,
    samples: { tried: { json: [], html: [] } },
    marker: newMarker(),
  }
  const findings: Finding[] = []
  let incomplete: 'deadline' | 'budget' | null = null
  let current = 'samples'
  probe.onRequest = (used, budget) => hooks.onProgress?.(current, used, budget)

  async function runCheck(check: Check): Promise<void> {
    current = check.name
    const emitted: Finding[] = []
    const fill = (reason: string) => {
      for (const spec of check.specs)
        if (!emitted.some((f) => f.id === spec.id)) emitted.push(skipped(spec, reason))
    }
    if (incomplete) fill(STOPPED[incomplete])
    else {
      const reason = check.applies?.(context) ?? null
      if (reason) fill(reason)
      else {
        try {
          await check.run(context, (finding) => emitted.push(finding))
          fill('not evaluated')
        } catch (error) {
          const stop = stopReason(error)
          if (stop) {
            incomplete = stop
            fill(STOPPED[stop])
          } else if (error instanceof TargetUnreachableError) {
            fill(`a request failed: ${error.message}`)
          } else throw error
        }
      }
    }
    const order = check.specs.map((spec) => spec.id)
    findings.push(...emitted.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id)))
  }

  try {
    try {
      await collectSamples(context)
    } catch (error) {
      const stop = stopReason(error)
      if (stop === 'deadline' && probe.answered === 0) {
        throw new TargetUnreachableError(`no answer from ${options.target.origin} before the deadline`)
      }
      if (!stop) throw error
      incomplete = stop
    }
    for (const check of ANONYMOUS_CHECKS) await runCheck(check)
    if (options.login && !incomplete) {
      current = 'sign-in'
      try {
        context.session = await signIn(context)
      } catch (error) {
        const stop = stopReason(error)
        if (!stop) throw error
        incomplete = stop
      }
    }
    for (const check of SESSION_CHECKS) await runCheck(check)
  } finally {
    probe.close()
  }
  return {
    target: options.target.href,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    requestsUsed: probe.used,
    requestBudget: probe.budget,
    incomplete,
    findings,
    summary: summarize(findings),
  }
}
