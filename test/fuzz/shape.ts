/**
 * Does a JSON value have a documented shape? The JSON Schema subset /openapi.json uses for its
 * answers (type, required, properties, additionalProperties, items, anyOf, enum, const, $ref).
 * Returns the first mismatch as a JSON pointer and a reason, or null.
 */
import type { Json, Schema } from './schema-values.ts'

const typeOf = (value: unknown): string => {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

export function mismatch(
  schema: Schema,
  value: Json,
  resolve: (schema: Schema) => Schema,
  at = '',
): string | null {
  const s = resolve(schema)
  if (s.anyOf) {
    const misses = s.anyOf.map((branch) => mismatch(branch, value, resolve, at))
    return misses.every((miss) => miss !== null)
      ? `${at || '/'}: matches no anyOf branch (${misses[0]})`
      : null
  }
  if (s.enum && !s.enum.some((option) => option === value)) return `${at || '/'}: not in enum`
  if (s.const !== undefined && s.const !== value) return `${at || '/'}: not ${JSON.stringify(s.const)}`
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type]
    const actual = typeOf(value)
    const fits = types.some((type) => type === actual || (type === 'number' && actual === 'integer'))
    if (!fits) return `${at || '/'}: ${actual}, expected ${types.join('|')}`
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, Json>
    for (const key of s.required ?? []) {
      if (!Object.hasOwn(object, key)) return `${at}/${key}: missing`
    }
    for (const [key, item] of Object.entries(object)) {
      const sub = s.properties?.[key]
      if (sub) {
        const miss = mismatch(sub, item, resolve, `${at}/${key}`)
        if (miss) return miss
      } else if (s.additionalProperties === false) {
        return `${at}/${key}: not documented`
      }
    }
  }
  if (Array.isArray(value) && s.items) {
    for (const [i, item] of value.entries()) {
      const miss = mismatch(s.items, item, resolve, `${at}/${i}`)
      if (miss) return miss
    }
  }
  return null
}
