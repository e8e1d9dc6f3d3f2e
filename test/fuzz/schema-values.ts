/**
 * Values from the JSON Schemas of /openapi.json: valid-shaped ones (what a route should take) and
 * near misses (one field wrong, missing or extra). The subset our document uses: object, string
 * (minLength, maxLength, format email, pattern), integer, boolean, enum, anyOf.
 * Strings may be slots (test/fuzz/slots.ts) filled at send time with a live user's email or password.
 */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { MARKED, slot } from './slots.ts'

export interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  items?: Schema
  anyOf?: Schema[]
  enum?: unknown[]
  const?: unknown
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  $ref?: string
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** Awkward text: unicode of every plane, lone surrogates, NUL and controls, markup. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', '\ud800', '\udfff', '\ufeff'),
    maxLength: 8,
  }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'null',
    'undefined',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    '%00',
    '%',
    '\r\nSet-Cookie: a=b',
    "' OR 1=1 --",
    '$'.concat('{jndi:ldap://x}'),
    '{{7*7}}',
    'NaN',
    '1e309',
    '\u202e\u0645\u0631\u062d\u0628\u0627',
    '👩‍👩‍👧‍👦',
    'Ω≈ç√∫',
  ),
  fc.constant(MARKED),
)

/** A long string, cheaply: a short random one repeated (fast-check draws strings a char at a time). */
export const longString: fc.Arbitrary<string> = fc
  .tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 40, max: 800 }))
  .map(([s, n]) => s.repeat(n))

function lengthBounded(schema: Schema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0
  const maxLength = Math.min(schema.maxLength ?? 64, minLength + 64)
  return fc.string({ minLength, maxLength })
}

/** Emails the domain takes (its dot-atom grammar), plus the live users' (slots). */
const emailValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 5 }).map((k) => slot('email', k)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.nat(), fc.constantFrom('example.com', 'example.org', 'x.test'))
      .map(([n, domain]) => `u${n.toString(36)}@${domain}`),
  },
  { weight: 1, arbitrary: fc.emailAddress() },
)

/** Passwords: the live users' own (to reach success paths), and policy-passing random ones. */
const passwordValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 5 }).map((k) => slot('password', k)) },
  { weight: 2, arbitrary: fc.nat().map((n) => `random pass phrase ${n.toString(36)}`) },
  { weight: 1, arbitrary: fc.constantFrom('password', 'password123', '12345678') },
)

/** A value `schema` accepts (or nearly: fast-check strings may not fit a format's finer rules). */
export function validValue(schema: Schema, name = ''): fc.Arbitrary<Json> {
  if (schema.enum) return fc.constantFrom(...(schema.enum as Json[]))
  if (schema.const !== undefined) return fc.constant(schema.const as Json)
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => validValue(s, name)))
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'object':
      return validObject(schema)
    case 'array':
      return fc.array(validValue(schema.items ?? {}), { maxLength: 4 })
    case 'integer':
      return fc.integer()
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'string':
      if (schema.format === 'email') return emailValue
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern))
      if (/password/.test(name)) return passwordValue
      if (name === 'token') {
        return fc.oneof(
          // Drawn as one number: fast-check builds strings a character at a time.
          fc
            .tuple(fc.constantFrom('gthr_', 'gthv_'), fc.nat())
            .map(([p, n]) => p + createHash('sha256').update(String(n)).digest('base64url')),
          lengthBounded(schema),
        )
      }
      return lengthBounded(schema)
    default:
      return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>
  }
}

function validObject(schema: Schema): fc.Arbitrary<Json> {
  const properties = schema.properties ?? {}
  const required = new Set(schema.required ?? [])
  const record: Record<string, fc.Arbitrary<Json>> = {}
  for (const [key, sub] of Object.entries(properties)) record[key] = validValue(sub, key)
  const known = fc.record(record, { requiredKeys: [...required] })
  if (schema.additionalProperties === false) return known
  // A free-form document (preferences): anything JSON, keys marked or not.
  return fc
    .tuple(
      known,
      fc.dictionary(
        fc.oneof(fc.string({ maxLength: 12 }), fc.constant(MARKED)),
        fc.jsonValue({ maxDepth: 3 }),
        { maxKeys: 6 },
      ),
    )
    .map(([a, b]) => ({ ...(b as Record<string, Json>), ...a }))
}

/** Wrong type for a field, a required field missing, an unknown (marked) key, or an overlong value. */
export function nearMiss(schema: Schema): fc.Arbitrary<Json> {
  const properties = Object.keys(schema.properties ?? {})
  const base = validObject(schema) as fc.Arbitrary<Record<string, Json>>
  const wrong: fc.Arbitrary<Json> = fc.oneof(
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.object({ maxDepth: 1 }) as fc.Arbitrary<Json>,
    nastyString,
    longString,
  )
  return fc.oneof(
    // A field of the wrong type or value.
    properties.length === 0
      ? base
      : fc
          .tuple(base, fc.constantFrom(...properties), wrong)
          .map(([body, key, value]) => ({ ...body, [key]: value })),
    // A field missing.
    properties.length === 0
      ? base
      : fc.tuple(base, fc.constantFrom(...properties)).map(([body, key]) => {
          const { [key]: _dropped, ...rest } = body
          return rest
        }),
    // Unknown keys, one of them marked (a 422 must not name it back: it is no plain name).
    fc
      .tuple(base, fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }))
      .map(([body, extra]) => ({ ...(extra as Record<string, Json>), [MARKED]: MARKED, ...body })),
    // The body is not an object at all.
    fc.oneof(
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
      fc.string(),
      fc.integer(),
      fc.constant(null),
    ) as fc.Arbitrary<Json>,
  )
}
