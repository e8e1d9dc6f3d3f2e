/**
 * One rule for what an account email is, used by the domain for every way an account is made
 * (registration, the CLI, admin): `local@domain` where the local part is an RFC 5322 §3.2.3
 * dot-atom and the domain is at least two RFC 1123 §2.1 labels (letters, digits, inner hyphens).
 * It is the grammar of JSON Schema's `email` format as ajv-formats checks it, so the HTTP schema
 * and the domain never disagree. ASCII only: a lone surrogate or any other non-ASCII is refused.
 */
const EMAIL_PATTERN =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i

/** RFC 5321 §4.5.3.1: a forward path is at most 256 octets, so an address at most 254. */
export const EMAIL_MAX_LENGTH = 254

/** Returns why the email is refused, or null when it is acceptable. */
export function emailViolation(email: string): string | null {
  if (email.length > EMAIL_MAX_LENGTH) return `Email must be at most ${EMAIL_MAX_LENGTH} characters`
  if (!EMAIL_PATTERN.test(email)) return 'value is not a valid email address'
  return null
}
