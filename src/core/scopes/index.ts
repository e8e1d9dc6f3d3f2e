/**
 * The scopes an application grants to API keys, declared once with a description each (shown in
 * the docs' Authorize dialog and to a user choosing what a key may do). A key carries only the
 * scopes it was created with; a signed-in user's session or password-flow token carries every
 * one (least privilege for scripts: OWASP REST Security Cheat Sheet, "API Keys"; ASVS 5.0 V8.2.1).
 */
export interface ScopeRegistry {
  /** Name → description, in declaration order. */
  readonly descriptions: Readonly<Record<string, string>>
  has(scope: string): boolean
  /** The names given that are not declared (empty when all are known). */
  unknown(scopes: readonly string[]): string[]
}

/** RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`, kept to a readable subset. */
const SCOPE_NAME = /^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$/
const MAX_SCOPE_LENGTH = 64

export function defineScopes(descriptions: Record<string, string>): ScopeRegistry {
  const names = Object.keys(descriptions)
  for (const name of names) {
    // Checked at boot: a scope that could not appear in a WWW-Authenticate `scope` value is a bug.
    if (!SCOPE_NAME.test(name) || name.length > MAX_SCOPE_LENGTH) {
      throw new RangeError(`scope "${name}": use lower-case words joined by ":", e.g. "prefs:read"`)
    }
    if (typeof descriptions[name] !== 'string' || descriptions[name].trim() === '') {
      throw new TypeError(`scope "${name}" needs a description`)
    }
  }
  const known = new Set(names)
  return {
    descriptions: Object.freeze({ ...descriptions }),
    has: (scope) => known.has(scope),
    unknown: (scopes) => scopes.filter((scope) => !known.has(scope)),
  }
}

/** An application that declares no scope: API keys cannot be created, since a key needs one. */
export const NO_SCOPES: ScopeRegistry = defineScopes({})
