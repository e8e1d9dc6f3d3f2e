import { randomBytes } from 'node:crypto'
import type { CookieJar } from './cookies.ts'
import type { HttpProbe, ProbeResponse } from './http-probe.ts'
import type { AuditOptions } from './options.ts'

/** A response whose headers the header checks read. */
export interface Sample {
  path: string
  response: ProbeResponse
}

export interface Samples {
  json?: Sample
  html?: Sample
  error?: Sample
  /** The paths tried for each kind, for a SKIP's reason. */
  tried: { json: string[]; html: string[] }
}

/** A cookie session from --login: its jar, its CSRF token and the login response. */
export interface Session {
  jar: CookieJar
  csrfToken: string | undefined
  login: ProbeResponse
  /** The login request as evidence (no password). */
  loginRequest: string
}

export interface AuditContext {
  probe: HttpProbe
  options: AuditOptions
  samples: Samples
  session?: Session
  /** This run's random tag: foreign origins and hosts, unknown emails, the 404 path. */
  marker: string
}

export function newMarker(): string {
  return randomBytes(6).toString('hex')
}

/** An origin nobody owns (RFC 2606 reserves .invalid), different on every run. */
export function foreignOrigin(context: AuditContext): string {
  return `https://gatehouse-audit-${context.marker}.invalid`
}

export function foreignHost(context: AuditContext): string {
  return `gatehouse-audit-${context.marker}.invalid`
}
