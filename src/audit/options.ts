/** What to audit and how hard; the CLI fills it from flags, tests build it directly. */
export interface AuditOptions {
  target: URL
  /** Sign in with these for the session checks. */
  login?: { email: string; password: string }
  /** A bearer token for the authenticated checks instead of (or besides) --login. */
  token?: string
  /** Also send failed logins: enumeration and throttling. */
  active: boolean
  budget: number
  timeoutMs: number
  deadlineMs: number
  throttleAttempts: number
  timingSamples: number
  paths: AuditPaths
  /** The CSRF token request header (Gatehouse, Django, the book: x-csrftoken). */
  csrfHeader: string
  loginFormat: 'json' | 'form'
  emailField: string
  passwordField: string
  /** The session cookie's name; by default every cookie the login sets but the CSRF one. */
  sessionCookie?: string
}

export interface AuditPaths {
  login: string
  csrf: string
  logout: string
  me: string
  token: string
  /** A JSON route to read headers from; by default the first of csrf, /healthz, / that answers JSON. */
  json?: string
  /** An HTML route; by default the first of /docs/, /docs, / that answers HTML. */
  html?: string
}

export const DEFAULT_PATHS: AuditPaths = {
  login: '/login',
  csrf: '/csrf',
  logout: '/logout',
  me: '/me',
  token: '/token',
}

export const AUDIT_DEFAULTS = {
  budget: 200,
  timeoutSeconds: 10,
  deadlineSeconds: 120,
  throttleAttempts: 20,
  timingSamples: 15,
  csrfHeader: 'x-csrftoken',
  loginFormat: 'json' as const,
  emailField: 'email',
  passwordField: 'password',
}

export function auditOptions(target: URL, overrides: Partial<AuditOptions> = {}): AuditOptions {
  return {
    target,
    active: false,
    budget: AUDIT_DEFAULTS.budget,
    timeoutMs: AUDIT_DEFAULTS.timeoutSeconds * 1000,
    deadlineMs: AUDIT_DEFAULTS.deadlineSeconds * 1000,
    throttleAttempts: AUDIT_DEFAULTS.throttleAttempts,
    timingSamples: AUDIT_DEFAULTS.timingSamples,
    csrfHeader: AUDIT_DEFAULTS.csrfHeader,
    loginFormat: AUDIT_DEFAULTS.loginFormat,
    emailField: AUDIT_DEFAULTS.emailField,
    passwordField: AUDIT_DEFAULTS.passwordField,
    ...overrides,
    paths: { ...DEFAULT_PATHS, ...overrides.paths },
  }
}
