import { type AuditContext, foreignHost } from '../context.ts'
import { type FindingSpec, finding } from '../finding.ts'
import { describeRequest, type ProbeResponse } from '../http-probe.ts'
import type { Check } from './check.ts'

// ASVS 5.0 has no Host-specific requirement; the Host header feeds security decisions (which
// site, which links in mails), so it falls under V2.2.1's allowlist validation of input
// (OWASP WSTG-INPV-17, "Testing for Host Header Injection").
const ALLOWLIST: FindingSpec = {
  id: 'host.allowlist',
  asvs: 'V2.2.1',
  title: 'a foreign Host is refused',
  fix: 'Serve only the host names you own (Gatehouse: ALLOWED_HOSTS or PUBLIC_URL); answer others with 400 or 421.',
  passMeans:
    'a request naming a host nobody owns is refused (4xx); served (2xx) is WARN: DNS rebinding and cache poisoning become possible',
}
const REFLECTION: FindingSpec = {
  id: 'host.reflection',
  asvs: 'V2.2.1',
  title: 'a foreign Host is not echoed into links',
  fix: 'Build absolute URLs from a configured public URL, never from the Host header.',
  passMeans: 'no answer to a foreign Host carries that host in Location or in the body',
}
const FORWARDED: FindingSpec = {
  id: 'host.forwarded',
  asvs: 'V4.1.3',
  title: 'X-Forwarded-Host from the client is not believed',
  fix: 'Trust X-Forwarded-* only from your own proxies, which must overwrite what clients send.',
  passMeans: 'X-Forwarded-Host sent by the client does not come back in Location or the body',
}

/** Health probes answer any Host on purpose (orchestrators probe pods by IP): not asked here. */
const PROBE_PATHS = new Set(['/healthz', '/readyz', '/livez', '/health'])

function pathsOf(context: AuditContext): string[] {
  const paths = [context.samples.json?.path ?? '/', context.samples.html?.path ?? '/docs', '/']
  return [...new Set(paths)].filter((path) => !PROBE_PATHS.has(path))
}

function echoes(response: ProbeResponse, host: string): string | null {
  if (response.headers.location?.includes(host)) return `location: ${response.headers.location}`
  if (response.body.includes(host)) return 'the host appears in the body'
  return null
}

export const hostCheck: Check = {
  name: 'Host header',
  specs: [ALLOWLIST, REFLECTION, FORWARDED],
  async run(context, emit) {
    const host = foreignHost(context)
    const paths = pathsOf(context)
    const served: string[] = []
    const refused: string[] = []
    const reflected: string[] = []
    for (const path of paths) {
      const response = await context.probe.request({ path, headers: { host } })
      const line = `${path} ${response.status}`
      if (response.status >= 200 && response.status < 300) served.push(line)
      else refused.push(line)
      const echo = echoes(response, host)
      if (echo) reflected.push(`${line}, ${echo}`)
    }
    const request = paths.map((path) => describeRequest('GET', path, { host })).join('; ')
    emit(
      served.length > 0
        ? finding(ALLOWLIST, 'WARN', 'the server answers for a host it does not own', {
            request,
            observed: served.join('; '),
          })
        : finding(ALLOWLIST, 'PASS', 'a foreign Host is refused', { request, observed: refused.join('; ') }),
    )
    emit(
      reflected.length > 0
        ? finding(
            REFLECTION,
            'FAIL',
            'the foreign host is written into the answer (password-reset poisoning, cache poisoning, open redirect)',
            { request, observed: reflected.join('; ') },
          )
        : finding(REFLECTION, 'PASS', 'the foreign host never comes back', {
            request,
            observed: [...served, ...refused].join('; '),
          }),
    )
    const forwarded: string[] = []
    const seen: string[] = []
    for (const path of paths) {
      const response = await context.probe.request({ path, headers: { 'x-forwarded-host': host } })
      seen.push(`${path} ${response.status}`)
      const echo = echoes(response, host)
      if (echo) forwarded.push(`${path} ${response.status}, ${echo}`)
    }
    const forwardedRequest = paths
      .map((path) => describeRequest('GET', path, { 'x-forwarded-host': host }))
      .join('; ')
    emit(
      forwarded.length > 0
        ? finding(FORWARDED, 'FAIL', 'a client-sent X-Forwarded-Host is believed and echoed', {
            request: forwardedRequest,
            observed: forwarded.join('; '),
          })
        : finding(FORWARDED, 'PASS', 'X-Forwarded-Host from the client is ignored', {
            request: forwardedRequest,
            observed: seen.join('; '),
          }),
    )
  },
}
