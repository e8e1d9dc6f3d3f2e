import { createHash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { normalizeEmail } from './user.ts'

/**
 * The per-account key: a hash of the normalised email, the same normalisation as the login lookup
 * (so `Alice@X` and `alice@x` share one counter), and no address stored in a shared Redis. An
 * unknown email gets a key like any other: a block never tells whether the account exists.
 */
export function accountKey(email: string): string {
  return createHash('sha256').update(normalizeEmail(email)).digest('base64url')
}

/**
 * The per-client key. IPv4 (also when IPv4-mapped) as is; IPv6 by its /64, since one end site
 * holds at least a whole /64 (RFC 6177 §2, RFC 7421) and could otherwise rotate addresses freely.
 */
export function clientKey(ip: string): string {
  const address = ip.split('%')[0] ?? ''
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  if (mapped?.[1]) return mapped[1]
  if (isIPv4(address) || !isIPv6(address)) return address || 'unknown'
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`
}

/** The eight groups of a valid IPv6 address, each in canonical lowercase hex. */
function ipv6Groups(address: string): string[] {
  // An embedded IPv4 tail (e.g. `64:ff9b::192.0.2.1`) fills the last two groups.
  const text = address.replace(/\d{1,3}(?:\.\d{1,3}){3}$/, '0:0')
  const [head = '', tail] = text.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16).toString(16))
}
