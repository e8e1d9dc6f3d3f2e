/**
 * Placeholders in generated requests, filled just before sending: the live users' credentials
 * (users are replaced when the fuzz changes a password or revokes a session, so a request is
 * generated against slot k, not against a user), and the request's own marker.
 * Slots are letters and digits only: form, URL and JSON encoding leave them as they are.
 */

/** One request's marker: `MARK` stands for it. It never matches the email grammar (`<`, `>`). */
export const MARK = 'MKSLOT'
/** Marker text to put in values, keys, paths and queries. */
export const MARKED = `<${MARK}>`
/** A marker header name (a valid token). */
export const MARKED_HEADER = `x-${MARK}`

export type SlotKind = 'email' | 'password' | 'userid' | 'session'

export const slot = (kind: SlotKind, k: number) => `ZZ${kind.toUpperCase()}${k}ZZ`

const SLOT = /ZZ(EMAIL|PASSWORD|USERID|SESSION)(\d)ZZ/g

/** Every slot in `text` made slot k: the email with its own password, the signed-in user's own id. */
export function bindSlots(text: string, k: number): string {
  return text.replace(SLOT, (_all, kind: string) => `ZZ${kind}${k}ZZ`)
}

export interface SlotValues {
  email(k: number): string
  password(k: number): string
  userId(k: number): string
  /** A public session id of user k (22 base64url characters). */
  sessionId(k: number): string
}

export function fill(text: string, values: SlotValues, marker: string): string {
  if (!text.includes('ZZ') && !text.includes(MARK)) return text
  return text
    .replace(SLOT, (_all, kind: string, k: string) => {
      const i = Number(k)
      if (kind === 'EMAIL') return values.email(i)
      if (kind === 'PASSWORD') return values.password(i)
      if (kind === 'USERID') return values.userId(i)
      return values.sessionId(i)
    })
    .replaceAll(MARK, marker)
}

export function fillBytes(body: Buffer, values: SlotValues, marker: string): Buffer {
  if (body.length === 0) return body
  // latin1 keeps every byte as one char: binary garbage goes through untouched.
  const text = body.toString('latin1')
  if (!text.includes('ZZ') && !text.includes(MARK)) return body
  return Buffer.from(fill(text, values, marker), 'latin1')
}
