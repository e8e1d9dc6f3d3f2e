/**
 * Host names as an allowlist holds them: `name` (any port) or `name:port`, lowercase, without the
 * trailing dot of a fully qualified name. A name is a DNS name, an IPv4 address or a bracketed IPv6
 * address (RFC 9110 §7.2: Host = uri-host [ ":" port ]).
 */
const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?'
const NAME = new RegExp(`^(?:\\[[0-9a-f:.]+\\]|${LABEL}(?:\\.${LABEL})*)$`)
const HOST = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/

/** The canonical form of a Host value or allowlist entry, or null when it is not one. */
export function normalizeHost(value: string): string | null {
  const match = HOST.exec(value.trim().toLowerCase())
  if (!match) return null
  const name = (match[1] ?? '').replace(/\.$/, '')
  if (name.length > 253 || !NAME.test(name)) return null
  if (match[2] === undefined) return name
  const port = Number(match[2])
  return port <= 65535 ? `${name}:${port}` : null
}

/** The name of a canonical host, without its port. */
function nameOf(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] ?? host)
}

/**
 * Answers remembered per raw Host value: a server sees a handful of them, and parsing one costs
 * more than the rest of the check. Bounded, so a client sending a new Host every time fills it
 * once and then just gets the uncached answer.
 */
const REMEMBERED_HOSTS = 256

/**
 * A test for Host header values: an entry without a port allows its name on any port (the name is
 * what a DNS-rebinding page cannot fake; the port adds nothing), an entry with one only that port.
 */
export function hostMatcher(entries: readonly string[]): (host: string | undefined) => boolean {
  const anyPort = new Set<string>()
  const exact = new Set<string>()
  for (const entry of entries) {
    const host = normalizeHost(entry)
    if (host === null) throw new TypeError(`not a host name: ${JSON.stringify(entry)}`)
    ;(host === nameOf(host) ? anyPort : exact).add(host)
  }
  const remembered = new Map<string, boolean>()
  return (value) => {
    if (value === undefined) return false
    const known = remembered.get(value)
    if (known !== undefined) return known
    const host = normalizeHost(value)
    const allowed = host !== null && (exact.has(host) || anyPort.has(nameOf(host)))
    if (remembered.size < REMEMBERED_HOSTS) remembered.set(value, allowed)
    return allowed
  }
}
