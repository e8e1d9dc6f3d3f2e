import assert from 'node:assert/strict'
import { type ErrorCode, GatehouseError } from '../../src/core/errors.ts'

/** For `assert.rejects`: a domain refusal with this stable code (and, when given, this field). */
export function refusedWith(code: ErrorCode, field?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof GatehouseError, `expected a GatehouseError, got ${String(error)}`)
    assert.equal(error.code, code)
    if (field !== undefined) assert.equal(error.field, field)
    return true
  }
}
