/**
 * Set-Cookie parsing and a minimal jar. The jar sends cookies back by hand, whatever their Secure
 * flag or `__Host-` prefix: the audit may talk plain http to a production server on loopback,
 * where a browser-grade jar would keep its Secure cookies to itself.
 */
export interface SetCookie {
  name: string
  value: string
  /** Lowercased attribute names → value ('' for flags such as HttpOnly). */
  attributes: Map<string, string>
}

export function parseSetCookie(header: string): SetCookie | null {
  const [pair = '', ...rest] = header.split(';')
  const eq = pair.indexOf('=')
  if (eq <= 0) return null
  const attributes = new Map<string, string>()
  for (const part of rest) {
    const at = part.indexOf('=')
    const name = (at === -1 ? part : part.slice(0, at)).trim().toLowerCase()
    if (name) attributes.set(name, at === -1 ? '' : part.slice(at + 1).trim())
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes }
}

/** A cookie the server is deleting (Max-Age ≤ 0, or an Expires in the past). */
export function isExpiring(cookie: SetCookie): boolean {
  const maxAge = cookie.attributes.get('max-age')
  if (maxAge !== undefined && Number(maxAge) <= 0) return true
  const expires = cookie.attributes.get('expires')
  return expires !== undefined && Date.parse(expires) < Date.now()
}

/** `name=<redacted>; HttpOnly; Secure; …`: the attributes are the evidence, the value is a secret. */
export function redactSetCookie(header: string): string {
  const cookie = parseSetCookie(header)
  if (!cookie) return '<unparsable Set-Cookie>'
  const attributes = header
    .split(';')
    .slice(1)
    .map((part) => part.trim())
  return [`${cookie.name}=<redacted>`, ...attributes.filter(Boolean)].join('; ')
}

/** Cookies whose value a front end must read (double-submit CSRF tokens): HttpOnly does not apply. */
export function isCsrfCookie(name: string): boolean {
  return /csrf|xsrf/i.test(name)
}

export class CookieJar {
  private readonly cookies = new Map<string, string>()

  /** Takes the Set-Cookie fields of a response: new values replace old, expiring ones are dropped. */
  store(setCookies: readonly string[]): void {
    for (const header of setCookies) {
      const cookie = parseSetCookie(header)
      if (!cookie) continue
      if (isExpiring(cookie)) this.cookies.delete(cookie.name)
      else this.cookies.set(cookie.name, cookie.value)
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name)
  }

  names(): string[] {
    return [...this.cookies.keys()]
  }

  get size(): number {
    return this.cookies.size
  }

  /** The Cookie request header, or undefined when empty. */
  header(): string | undefined {
    if (this.cookies.size === 0) return undefined
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  /** The Cookie header as evidence: names only. */
  describe(): string {
    return [...this.cookies.keys()].map((name) => `${name}=<redacted>`).join('; ')
  }

  copy(): CookieJar {
    const jar = new CookieJar()
    for (const [name, value] of this.cookies) jar.cookies.set(name, value)
    return jar
  }

  /** The value of the first cookie whose name looks like a CSRF token. */
  csrfValue(): string | undefined {
    for (const [name, value] of this.cookies) if (isCsrfCookie(name)) return value
    return undefined
  }
}
