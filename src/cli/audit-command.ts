import { type Command, InvalidArgumentError, Option } from 'commander'
import {
  AUDIT_DEFAULTS,
  type AuditOptions,
  AuditUsageError,
  auditOptions,
  reportJson,
  reportText,
  runAudit,
  TargetUnreachableError,
  useColour,
} from '../audit/index.ts'
import { errorLine } from './error-line.ts'

/** Exit codes: 0 no FAIL, 1 at least one FAIL, 2 a usage or connection error (or an audit cut short by its deadline). */
const EXIT_FAIL = 1
const EXIT_USAGE = 2

function integerIn(min: number, max: number) {
  return (raw: string): number => {
    const value = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN
    if (!(value >= min && value <= max)) throw new InvalidArgumentError(`an integer from ${min} to ${max}`)
    return value
  }
}

function pathFlag(raw: string): string {
  if (!raw.startsWith('/') || raw.startsWith('//'))
    throw new InvalidArgumentError('a path starting with one "/"')
  return raw
}

function targetOf(raw: string): URL {
  const url = URL.canParse(raw) ? new URL(raw) : null
  if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash) {
    // Not echoed: it might carry credentials.
    throw new AuditUsageError(
      'the target must be an http:// or https:// URL without credentials, query or fragment',
    )
  }
  return url
}

/** `email:password`, or `email` with the password in GATEHOUSE_AUDIT_PASSWORD (kept out of `ps`). */
function loginOf(raw: string | undefined): AuditOptions['login'] {
  if (raw === undefined) return undefined
  const colon = raw.indexOf(':')
  const email = colon === -1 ? raw : raw.slice(0, colon)
  const password = colon === -1 ? process.env.GATEHOUSE_AUDIT_PASSWORD : raw.slice(colon + 1)
  if (!email || !password) {
    throw new AuditUsageError(
      '--login needs email:password, or an email with the password in GATEHOUSE_AUDIT_PASSWORD',
    )
  }
  return { email, password }
}

interface Flags {
  login?: string
  token?: string
  active: boolean
  json: boolean
  budget: number
  timeout: number
  deadline: number
  throttleAttempts: number
  timingSamples: number
  loginPath: string
  csrfPath: string
  logoutPath: string
  mePath: string
  tokenPath: string
  jsonPath?: string
  htmlPath?: string
  csrfHeader: string
  loginFormat: 'json' | 'form'
  emailField: string
  passwordField: string
  sessionCookie?: string
}

function progress(): { update(check: string, used: number, budget: number): void; clear(): void } {
  if (!process.stderr.isTTY) return { update() {}, clear() {} }
  return {
    update(check, used, budget) {
      process.stderr.write(`\r\x1b[K[${used}/${budget}] ${check}…`)
    },
    clear() {
      process.stderr.write('\r\x1b[K')
    },
  }
}

async function audit(url: string, flags: Flags): Promise<number> {
  const token = flags.token ?? (process.env.GATEHOUSE_AUDIT_TOKEN || undefined)
  const options = auditOptions(targetOf(url), {
    login: loginOf(flags.login),
    token,
    active: flags.active,
    budget: flags.budget,
    timeoutMs: flags.timeout * 1000,
    deadlineMs: flags.deadline * 1000,
    throttleAttempts: flags.throttleAttempts,
    timingSamples: flags.timingSamples,
    csrfHeader: flags.csrfHeader.toLowerCase(),
    loginFormat: flags.loginFormat,
    emailField: flags.emailField,
    passwordField: flags.passwordField,
    sessionCookie: flags.sessionCookie,
    paths: {
      login: flags.loginPath,
      csrf: flags.csrfPath,
      logout: flags.logoutPath,
      me: flags.mePath,
      token: flags.tokenPath,
      json: flags.jsonPath,
      html: flags.htmlPath,
    },
  })
  const line = progress()
  try {
    const report = await runAudit(options, { onProgress: line.update })
    line.clear()
    process.stdout.write(flags.json ? reportJson(report) : reportText(report, useColour(process.stdout)))
    if (report.summary.fail > 0) return EXIT_FAIL
    return report.incomplete === 'deadline' ? EXIT_USAGE : 0
  } finally {
    line.clear()
  }
}

/** `gatehouse audit <url>`: a security self-test of a running deployment. */
export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description(
      'security self-test of a running HTTP(S) deployment, findings mapped to OWASP ASVS 5.0 (read-only unless --active)',
    )
    .argument('<url>', 'the deployment, e.g. https://api.example.com (only this origin is contacted)')
    .option(
      '--login <email:password>',
      'sign in for the session, cookie, CSRF and logout checks (or give only the email and set GATEHOUSE_AUDIT_PASSWORD)',
    )
    .option(
      '--token <token>',
      'a bearer token for the authenticated caching check (or GATEHOUSE_AUDIT_TOKEN); never revoked by the audit',
    )
    .option(
      '--active',
      'also send failed logins: enumeration (2 × --timing-samples, with correct logins in between) and throttling (up to --throttle-attempts for a random unknown email)',
      false,
    )
    .option('--json', 'print the report as JSON (for CI)', false)
    .option('--budget <n>', 'total requests at most', integerIn(1, 10_000), AUDIT_DEFAULTS.budget)
    .option('--timeout <seconds>', 'per-request timeout', integerIn(1, 600), AUDIT_DEFAULTS.timeoutSeconds)
    .option(
      '--deadline <seconds>',
      'the whole audit ends by then',
      integerIn(1, 3600),
      AUDIT_DEFAULTS.deadlineSeconds,
    )
    .option(
      '--throttle-attempts <n>',
      'failed logins before throttling must have answered 429',
      integerIn(1, 1000),
      AUDIT_DEFAULTS.throttleAttempts,
    )
    .option(
      '--timing-samples <n>',
      'failed logins per series in the timing comparison (at least 15)',
      integerIn(15, 500),
      AUDIT_DEFAULTS.timingSamples,
    )
    .option('--login-path <path>', 'login route (POST)', pathFlag, '/login')
    .option('--csrf-path <path>', 'route that hands out the CSRF token (GET)', pathFlag, '/csrf')
    .option(
      '--logout-path <path>',
      'logout route (POST); also the unsafe request of the CSRF checks',
      pathFlag,
      '/logout',
    )
    .option('--me-path <path>', 'a route answering 200 only when signed in (GET)', pathFlag, '/me')
    .option('--token-path <path>', 'OAuth2 password-grant token route (POST form)', pathFlag, '/token')
    .option(
      '--json-path <path>',
      'a JSON route for the header checks (default: first of --csrf-path, /healthz, /)',
      pathFlag,
    )
    .option(
      '--html-path <path>',
      'an HTML page for the header checks (default: first of /docs/, /docs, /)',
      pathFlag,
    )
    .option('--csrf-header <name>', 'the request header carrying the CSRF token', AUDIT_DEFAULTS.csrfHeader)
    .addOption(new Option('--login-format <format>', 'login body').choices(['json', 'form']).default('json'))
    .option('--email-field <name>', 'login body field for the email', AUDIT_DEFAULTS.emailField)
    .option('--password-field <name>', 'login body field for the password', AUDIT_DEFAULTS.passwordField)
    .option('--session-cookie <name>', 'the session cookie (default: every login cookie but a csrf/xsrf one)')
    .addHelpText(
      'after',
      [
        '',
        'Read-only by default: GET, OPTIONS and a few refused or harmless POSTs (a malformed login body,',
        'the CSRF probes on --logout-path). With --login it signs in and logs out its own sessions.',
        "--active sends failed logins: a random unknown email gets locked for the server's block time,",
        'and the per-IP failure count grows by up to 2 × --timing-samples + --throttle-attempts.',
        '',
        'Exit codes: 0 no FAIL, 1 at least one FAIL, 2 usage or connection error, or the deadline passed.',
        'See docs/audit.md for every check and its ASVS 5.0 requirement.',
      ].join('\n'),
    )
    .exitOverride((error) => {
      // Commander has printed the message; a bad flag is a usage error (2), --help is not (0).
      process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE)
    })
    .action(async (url: string, flags: Flags) => {
      try {
        process.exitCode = await audit(url, flags)
      } catch (error) {
        // Exit 1 means "a FAIL was found": anything that kept the audit from running is a 2.
        const known = error instanceof AuditUsageError || error instanceof TargetUnreachableError
        console.error(
          `gatehouse audit: ${known ? error.message : errorLine(error).replace(/^gatehouse: /, '')}`,
        )
        process.exitCode = EXIT_USAGE
      }
    })
}
