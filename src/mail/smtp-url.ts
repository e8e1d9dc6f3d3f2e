export interface SmtpServer {
  host: string
  port: number
  /** smtps: TLS from the first byte (RFC 8314 §3.3, port 465); smtp: STARTTLS when offered. */
  secure: boolean
  auth: { user: string; pass: string } | null
  /** The URL without credentials, for logs and the startup line. */
  display: string
}

const DEFAULT_PORTS = { 'smtp:': 587, 'smtps:': 465 } as const

function decodeCredential(encoded: string): string {
  try {
    return decodeURIComponent(encoded)
  } catch {
    throw new Error('SMTP_URL: the user name or password is not valid percent-encoding')
  }
}

/**
 * `smtp://user:pass@host:port` or `smtps://…`. Every refusal names the part that is wrong and never
 * echoes the URL, which holds the password. Query options are refused rather than passed on: the
 * connection settings (timeouts, TLS) are this module's decision, not the URL's.
 */
export function parseSmtpUrl(smtpUrl: string): SmtpServer {
  let url: URL
  try {
    url = new URL(smtpUrl)
  } catch {
    throw new Error('SMTP_URL is not a URL (expected smtp://user:pass@host:port or smtps://…)')
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error('SMTP_URL must start with smtp:// or smtps://')
  }
  if (!url.hostname) throw new Error('SMTP_URL names no host')
  if (url.search || url.hash || (url.pathname && url.pathname !== '/')) {
    throw new Error('SMTP_URL takes no path, query or fragment')
  }
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol]
  const user = decodeCredential(url.username)
  const pass = decodeCredential(url.password)
  if (pass && !user) throw new Error('SMTP_URL has a password but no user name')
  // A bracketed IPv6 literal keeps its brackets in `hostname`; the socket wants the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  return {
    host,
    port,
    secure: url.protocol === 'smtps:',
    auth: user ? { user, pass } : null,
    display: `${url.protocol}//${url.hostname}:${port}`,
  }
}
