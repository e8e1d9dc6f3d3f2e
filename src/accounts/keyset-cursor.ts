import { GatehouseError } from '../core/errors.ts'

/** Ids are PostgreSQL `serial` (int4): a larger number names no row, and must not reach the driver. */
export const MAX_ROW_ID = 2_147_483_647

/**
 * Keyset cursors: the last id of a page, tagged with what it pages through, as base64url. Opaque to
 * clients (a format we may change), and checked strictly: anything we did not issue is a 422 on
 * `field`, never a driver error. Forging one gains nothing: it only moves where a superuser's
 * listing starts, over rows that superuser may read anyway.
 */
export function encodeCursor(kind: string, id: number): string {
  return Buffer.from(`${kind}:${id}`, 'utf8').toString('base64url')
}

export function decodeCursor(kind: string, cursor: string, field = 'cursor'): number {
  const refuse = (): never => {
    throw new GatehouseError('VALIDATION_FAILED', { detail: 'Invalid pagination cursor', field })
  }
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(cursor)) refuse()
  const match = /^([a-z]+):([1-9][0-9]{0,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (match === null || match[1] !== kind) return refuse()
  const id = Number(match[2])
  // Canonical only: one cursor per position, so a cursor cannot smuggle padding or other bytes.
  if (id > MAX_ROW_ID || encodeCursor(kind, id) !== cursor) refuse()
  return id
}

/** An integer in min..max, else a 422 on `field`: these numbers come from a client. */
export function checkedLimit(value: unknown, max: number, field = 'limit'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new GatehouseError('VALIDATION_FAILED', { detail: `${field} must be from 1 to ${max}`, field })
  }
  return value
}
