/**
 * Request bodies: a value encoded as JSON, a urlencoded form or multipart/form-data (each with the
 * Content-Type that goes with it), and garbage: truncated and invalid JSON, deep nesting, broken
 * forms and multipart, NUL bytes, invalid UTF-8, strings up to (and past) the body limit.
 */
import fc from 'fast-check'
import { type Json, nastyString } from './schema-values.ts'
import { MARKED } from './slots.ts'

export interface Body {
  /** null: no Content-Type header at all. */
  contentType: string | null
  bytes: Buffer
  /** How it was made, for the report. */
  kind: string
}

export const JSON_TYPE = 'application/json'
export const FORM_TYPE = 'application/x-www-form-urlencoded'
export const MULTIPART_TYPE = 'multipart/form-data'

const utf8 = (text: string) => Buffer.from(text, 'utf8')

/** A form field's value: what a browser would send for that JSON value. */
function fieldText(value: Json): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function formPairs(value: Json): [string, string][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return [['value', fieldText(value)]]
  return Object.entries(value).map(([k, v]) => [k, fieldText(v)])
}

export function encode(type: string, value: Json, boundary: string): Body {
  if (type === FORM_TYPE) {
    return {
      contentType: FORM_TYPE,
      bytes: utf8(new URLSearchParams(formPairs(value)).toString()),
      kind: 'form',
    }
  }
  if (type === MULTIPART_TYPE) {
    const parts = formPairs(value).map(
      ([name, text]) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${name.replace(/["\r\n]/g, '_')}"\r\n\r\n${text}\r\n`,
    )
    return {
      contentType: `${MULTIPART_TYPE}; boundary=${boundary}`,
      bytes: utf8(`${parts.join('')}--${boundary}--\r\n`),
      kind: 'multipart',
    }
  }
  return { contentType: JSON_TYPE, bytes: utf8(JSON.stringify(value)), kind: 'json' }
}

export const boundaryArb = fc.stringMatching(/^[A-Za-z0-9'()+_,-]{1,40}$/)

/** A body the route's schema refuses or the parser chokes on, in the route's own media type. */
export function garbageBody(type: string, sample: fc.Arbitrary<Json>, limit: number): fc.Arbitrary<Body> {
  const json = (kind: string, text: fc.Arbitrary<string | Buffer>) =>
    text.map(
      (t): Body => ({
        contentType: type === JSON_TYPE ? JSON_TYPE : type,
        bytes: typeof t === 'string' ? utf8(t) : t,
        kind,
      }),
    )
  const asJson = (kind: string, text: fc.Arbitrary<string | Buffer>) =>
    text.map((t): Body => ({ contentType: JSON_TYPE, bytes: typeof t === 'string' ? utf8(t) : t, kind }))
  const generic = fc.oneof(
    // Cut anywhere, including mid-escape and mid-character.
    fc.tuple(sample, fc.double({ min: 0, max: 1, noNaN: true })).map(([value, at]): Body => {
      const bytes = utf8(JSON.stringify(value))
      return {
        contentType: JSON_TYPE,
        bytes: bytes.subarray(0, Math.floor(bytes.length * at)),
        kind: 'json-truncated',
      }
    }),
    asJson(
      'json-invalid',
      fc.constantFrom(
        '{',
        '}',
        '{"a":}',
        "{'email': 'x'}",
        '{"email": "a", }',
        '[1,2',
        'nul',
        'NaN',
        '{"a": 1e999999}',
        '{"a": -}',
        '\ufeff{"a": 1}',
        '{"a": "\\ud800"}',
        '{"a": "\\u00"}',
        '{"__proto__": {"isAdmin": true}}',
        '{"constructor": {"prototype": {"x": 1}}}',
        '{"email": "a@b.co", "email": "c@d.co"}',
        '\u0000',
        '{"a":"\u0000"}',
        '',
        ' ',
        'true',
        '"string"',
        '12345',
      ),
    ),
    // Deep nesting within (and past) the body limit: JSON.parse and serialisers recurse.
    fc
      .tuple(
        fc.integer({ min: 100, max: Math.floor(limit / 2) - 10 }),
        fc.constantFrom('[', '{"a":'),
        fc.boolean(),
      )
      .map(([depth, open, closed]): Body => {
        const close = open === '[' ? ']' : '}'
        const text = open.repeat(depth) + (open === '[' ? '' : '1') + (closed ? close.repeat(depth) : '')
        return { contentType: JSON_TYPE, bytes: utf8(text.slice(0, limit - 1)), kind: 'json-deep' }
      }),
    // A long string: just under and just over the limit.
    fc
      .tuple(
        fc.integer({ min: limit - 200, max: limit + 2000 }),
        fc.constantFrom('email', 'password', 'token', 'x'),
      )
      .map(
        ([size, key]): Body => ({
          contentType: type === FORM_TYPE ? FORM_TYPE : JSON_TYPE,
          bytes:
            type === FORM_TYPE
              ? utf8(`${key}=${'a'.repeat(size)}`)
              : utf8(JSON.stringify({ [key]: 'a'.repeat(size) })),
          kind: 'long-string',
        }),
      ),
    // Random bytes, invalid UTF-8 included.
    fc
      .uint8Array({ maxLength: 300 })
      .map((bytes): Body => ({ contentType: type, bytes: Buffer.from(bytes), kind: 'random-bytes' })),
    asJson(
      'json-nasty',
      fc
        .dictionary(fc.oneof(nastyString, fc.constant(MARKED)), nastyString, { maxKeys: 5 })
        .map((o) => JSON.stringify(o)),
    ),
    // UTF-16 or Latin-1 bytes under a JSON label.
    sample.map(
      (value): Body => ({
        contentType: `${JSON_TYPE}; charset=utf-16`,
        bytes: Buffer.from(JSON.stringify(value), 'utf16le'),
        kind: 'json-utf16',
      }),
    ),
    json(
      'invalid-utf8',
      fc.constant(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d])),
    ),
  )
  if (type === FORM_TYPE) {
    return fc.oneof(
      generic,
      fc
        .constantFrom(
          '%',
          'email=%ZZ&password=%',
          'email=a&email=b&password=c&password=d',
          '=&=&=',
          'a[b]=1&a[c]=2',
          '__proto__=x&constructor=y',
          'email=%00&password=%00%00%00%00%00%00%00%00',
          '&&&&',
          'email',
          `${MARKED}=${MARKED}`,
          'email=a@b.co&password=12345678&is_superuser=true',
          '+=+',
        )
        .map((text): Body => ({ contentType: FORM_TYPE, bytes: utf8(text), kind: 'form-garbage' })),
      fc.integer({ min: 200, max: 3000 }).map(
        (n): Body => ({
          contentType: FORM_TYPE,
          bytes: utf8(Array.from({ length: n }, (_, i) => `k${i}=v`).join('&')),
          kind: 'form-many-fields',
        }),
      ),
    )
  }
  if (type === MULTIPART_TYPE) {
    return fc.oneof(
      generic,
      fc
        .tuple(boundaryArb, sample, fc.integer({ min: 0, max: 7 }))
        .map(([boundary, value, variant]): Body => {
          const good = encode(MULTIPART_TYPE, value, boundary).bytes.toString('utf8')
          const variants: [string | null, string][] = [
            [`${MULTIPART_TYPE}; boundary=${boundary}`, good.slice(0, Math.floor(good.length / 2))],
            [MULTIPART_TYPE, good],
            [`${MULTIPART_TYPE}; boundary=other${boundary}`, good],
            [
              `${MULTIPART_TYPE}; boundary=${boundary}`,
              `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`,
            ],
            [
              `${MULTIPART_TYPE}; boundary=${boundary}`,
              `${Array.from({ length: 40 }, (_, i) => `--${boundary}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv\r\n`).join('')}--${boundary}--\r\n`,
            ],
            [
              `${MULTIPART_TYPE}; boundary=${boundary}`,
              `--${boundary}\r\nContent-Disposition: form-data; name="${'n'.repeat(5000)}"\r\n\r\nv\r\n--${boundary}--\r\n`,
            ],
            [`${MULTIPART_TYPE}; boundary=${boundary}`, good.replaceAll('\r\n', '\n')],
            [
              `${MULTIPART_TYPE}; boundary=${boundary}`,
              `--${boundary}\r\nContent-Disposition: form-data; name="${MARKED}"\r\nX-${'h'.repeat(2000)}: 1\r\n\r\n${MARKED}\r\n--${boundary}--\r\n`,
            ],
          ]
          const [contentType, text] = variants[variant]!
          return { contentType, bytes: utf8(text), kind: `multipart-garbage-${variant}` }
        }),
    )
  }
  return generic
}
