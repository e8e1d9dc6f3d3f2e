/**
 * Safe methods (RFC 9110 §9.2.1) must not change state, so CSRF protection covers every other
 * method (OWASP CSRF Prevention Cheat Sheet, "Token Based Mitigation": state-changing requests).
 */
export const SAFE_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

const SAFE = new Set(SAFE_METHODS)

/**
 * Method names are case-sensitive (RFC 9110 §9.1): `get` is not GET, so it is treated as unsafe
 * and gets the checks. Failing closed costs nothing, since browsers send canonical uppercase.
 */
export function isUnsafeMethod(method: string): boolean {
  return !SAFE.has(method)
}
