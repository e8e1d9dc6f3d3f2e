import type { AuditContext, Sample } from './context.ts'
import { TargetUnreachableError } from './errors.ts'
import type { ProbeResponse } from './http-probe.ts'

/** Same-origin redirects followed while looking for a sample page (a relative Location only). */
const MAX_HOPS = 2

function isJson(response: ProbeResponse): boolean {
  return /\bjson\b/i.test(response.headers['content-type'] ?? '')
}

function isHtml(response: ProbeResponse): boolean {
  return /^text\/html\b/i.test(response.headers['content-type'] ?? '')
}

/**
 * GET with at most MAX_HOPS redirects, each only when Location is a path on the target (never
 * another origin, never a protocol-relative `//host`).
 */
export async function getOnOrigin(context: AuditContext, path: string): Promise<Sample> {
  let current = path
  for (let hop = 0; ; hop++) {
    const response = await context.probe.request({ path: current })
    const location = response.headers.location
    const samePath = location?.startsWith('/') && !location.startsWith('//') ? location : undefined
    if (response.status < 300 || response.status >= 400 || !samePath || hop >= MAX_HOPS) {
      return { path: current, response }
    }
    const prefix = context.probe.target.pathname.replace(/\/+$/, '')
    current = prefix && samePath.startsWith(prefix) ? samePath.slice(prefix.length) || '/' : samePath
  }
}

async function firstMatching(
  context: AuditContext,
  paths: string[],
  matches: (response: ProbeResponse) => boolean,
): Promise<Sample | undefined> {
  for (const path of paths) {
    let sample: Sample
    try {
      sample = await getOnOrigin(context, path)
    } catch (error) {
      // One slow or broken route is that route's problem; a target that never answered is not.
      if (error instanceof TargetUnreachableError && context.probe.answered > 0) continue
      throw error
    }
    if (sample.response.status >= 200 && sample.response.status < 300 && matches(sample.response))
      return sample
  }
  return undefined
}

/** One JSON response, one HTML page and one 404, whose headers the header checks read. */
export async function collectSamples(context: AuditContext): Promise<void> {
  const { paths } = context.options
  const json = paths.json ? [paths.json] : [...new Set([paths.csrf, '/healthz', '/'])]
  const html = paths.html ? [paths.html] : ['/docs/', '/docs', '/']
  context.samples.tried = { json, html }
  context.samples.json = await firstMatching(context, json, isJson)
  context.samples.html = await firstMatching(context, html, isHtml)
  const missing = `/gatehouse-audit-${context.marker}-missing`
  try {
    context.samples.error = { path: missing, response: await context.probe.request({ path: missing }) }
  } catch (error) {
    if (!(error instanceof TargetUnreachableError && context.probe.answered > 0)) throw error
  }
}
