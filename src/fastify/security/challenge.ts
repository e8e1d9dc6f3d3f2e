/**
 * `WWW-Authenticate` challenges, built once per factory. RFC 9110 §11.6.1 (formerly RFC 7235 §4.1):
 * a 401 response MUST carry at least one challenge for the target resource.
 */

/**
 * Encodes a quoted-string (RFC 9110 §5.6.4): `"` and `\` become quoted-pairs. Control characters
 * and non-ASCII are refused at boot rather than escaped: Node refuses them in header values, and a
 * CR/LF would be header injection.
 */
export function quotedString(value: string, option: string): string {
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index)
    if (code < 0x20 || code > 0x7e) {
      throw new TypeError(`option "${option}" must contain printable ASCII only (RFC 9110 §5.6.4)`)
    }
  }
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

/** `Scheme name="value", …` with values already quoted by `quotedString` or fixed literals. */
export function challenge(scheme: string, params: readonly (readonly [string, string])[]): string {
  if (params.length === 0) return scheme
  return `${scheme} ${params.map(([name, value]) => `${name}=${value}`).join(', ')}`
}

/** The one header a failed check sets; a fresh object per factory, shared by its responses. */
export function challengeHeaders(value: string): Record<string, string> {
  return { 'www-authenticate': value }
}
