/**
 * Request headers beyond the body's Content-Type: browser-ish ones, the marker, and garbage
 * (odd Content-Type and Content-Length, duplicated Host/Cookie/Authorization, Origin and
 * Sec-Fetch-Site from other sites, forwarded-for spoofing, huge values, many headers).
 * `HOST` and `ORIGIN` are slots for this server's own host and origin.
 */
import fc from 'fast-check'
import { MARKED, MARKED_HEADER } from './slots.ts'

export type Header = [string, string]

export const SELF_HOST = 'ZZHOSTZZ'
export const SELF_ORIGIN = 'ZZORIGINZZ'

/** Printable Latin-1: what Node's HTTP client lets through (no CR, LF or NUL). */
export const headerText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)),
  ),
  maxLength: 60,
})

const ODD_CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'application/json;charset=UTF-16',
  'APPLICATION/JSON',
  'application/json, text/plain',
  'application/json; charset=latin1; charset=utf-8',
  'application/jsonx',
  'application/vnd.api+json',
  'text/json',
  'text/plain',
  'text/html',
  'application/xml',
  'application/octet-stream',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'multipart/form-data; boundary="a"; boundary=b',
  'multipart/mixed; boundary=x',
  'application/',
  '/',
  '*/*',
  ';',
  '',
  ' ',
  `application/json; ${MARKED}=1`,
  MARKED,
]

export const oddContentType: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ODD_CONTENT_TYPES),
  headerText,
  fc.integer({ min: 1000, max: 8000 }).map((n) => `application/json; x=${'a'.repeat(n)}`),
)

const ORIGINS = [
  SELF_ORIGIN,
  'null',
  'http://evil.example',
  'http://localhost:9000',
  `http://${MARKED}`,
  'file://',
  MARKED,
]
const FETCH_SITES = ['same-origin', 'same-site', 'cross-site', 'none', MARKED, '']

/** One optional header of the ordinary kind, some of them marked. */
const ordinaryHeader: fc.Arbitrary<Header> = fc.oneof(
  fc.constantFrom<Header>(
    ['accept', 'application/json'],
    ['accept', '*/*'],
    ['accept', 'text/html'],
    ['accept-encoding', 'gzip, deflate, br'],
    ['accept-language', 'en-US,en;q=0.9'],
    ['cache-control', 'no-cache'],
    ['connection', 'keep-alive'],
    ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0'],
    ['sec-fetch-mode', 'cors'],
    ['x-requested-with', 'XMLHttpRequest'],
    ['if-none-match', '*'],
    ['range', 'bytes=0-10'],
    ['expect', '100-continue'],
    ['access-control-request-method', 'POST'],
    ['access-control-request-headers', 'content-type, x-csrftoken'],
  ),
  fc.constantFrom(...ORIGINS).map((v): Header => ['origin', v]),
  fc.constantFrom(...FETCH_SITES).map((v): Header => ['sec-fetch-site', v]),
  fc.constant<Header>(['user-agent', `fuzz ${MARKED}`]),
  fc.constant<Header>([MARKED_HEADER, MARKED]),
  fc
    .constantFrom(
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-real-ip',
      'forwarded',
      'referer',
    )
    .map((name): Header => [name, MARKED]),
  fc.constant<Header>(['x-forwarded-for', '10.0.0.1, 127.0.0.1']),
  fc.constant<Header>(['x-csrftoken', MARKED]),
  fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), headerText).map(([n, v]): Header => [n, v]),
)

/** Headers that should not be there, or not like this. */
const oddHeader: fc.Arbitrary<Header> = fc.oneof(
  fc
    .constantFrom(
      SELF_HOST,
      'evil.example',
      'localhost',
      '127.0.0.1:1',
      '[::1]',
      '',
      MARKED,
      `${SELF_HOST}, evil.example`,
      'a'.repeat(300),
    )
    .map((v): Header => ['host', v]),
  fc
    .oneof(
      headerText,
      fc.constantFrom(
        'token=',
        'token=a; token=b',
        `${MARKED}=${MARKED}`,
        'csrftoken=x; token=y',
        '__Host-token=x',
        `token=${MARKED}`,
      ),
    )
    .map((v): Header => ['cookie', v]),
  fc
    .oneof(
      headerText,
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'bearer x',
        'Bearer  two spaces',
        'Basic Zm9vOmJhcg==',
        'Basic',
        'Basic !!!',
        `Bearer ${MARKED}`,
        'Digest x',
        'Bearer a b',
        'Bearer gth_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      ),
    )
    .map((v): Header => ['authorization', v]),
  oddContentType.map((v): Header => ['content-type', v]),
  fc.constantFrom('100-continue', 'foo', '200-ok', MARKED).map((v): Header => ['expect', v]),
  fc
    .constantFrom('gzip', 'br', 'deflate', 'identity', '*;q=0', MARKED)
    .map((v): Header => ['content-encoding', v]),
  fc.constantFrom('websocket', 'h2c', MARKED).map((v): Header => ['upgrade', v]),
  fc
    .constantFrom('close', 'upgrade', 'keep-alive, upgrade', 'te', MARKED)
    .map((v): Header => ['connection', v]),
  fc.constantFrom('GET', 'DELETE', 'FOO', MARKED).map((v): Header => ['x-http-method-override', v]),
  fc.integer({ min: 4000, max: 17000 }).map((n): Header => ['x-big', 'b'.repeat(n)]),
  fc.integer({ min: 4000, max: 17000 }).map((n): Header => ['cookie', `a=${'c'.repeat(n)}`]),
)

/** A header list: mostly a few ordinary ones, sometimes odd or duplicated ones, sometimes hundreds. */
export const extraHeaders: fc.Arbitrary<Header[]> = fc.oneof(
  { weight: 6, arbitrary: fc.array(ordinaryHeader, { maxLength: 4 }) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.array(ordinaryHeader, { maxLength: 3 }), fc.array(oddHeader, { minLength: 1, maxLength: 3 }))
      .map(([a, b]) => [...a, ...b]),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 50, max: 400 })
      .map((n) => Array.from({ length: n }, (_, i): Header => [`x-h${i}`, MARKED])),
  },
)

/** What only a raw socket can send: header values and names Node's client refuses to write. */
export const rawOnlyHeaderLines: fc.Arbitrary<string[]> = fc.array(
  fc.oneof(
    fc.constantFrom(
      'Content-Length: -1',
      'Content-Length: abc',
      'Content-Length: 1, 2',
      'Content-Length: 0x10',
      'Content-Length: +5',
      'Content-Length: 99999999999999999999',
      'Transfer-Encoding: chunked, chunked',
      'Transfer-Encoding: gzip',
      'Transfer-Encoding: identity',
      'Transfer-Encoding : chunked',
      'Transfer-Encoding:\tchunked',
      'X-Nul: a\u0000b',
      'X-Cr: a\rb',
      ' folded: continuation',
      'X-Obs:\r\n fold',
      'NoColon',
      ': empty-name',
      `Bad Name: ${MARKED}`,
      `${MARKED}: x`,
      'X-Unicode: \u00e9\u4e2d\u{1f600}',
      `X-Marked-Unicode: \u{1f600}${MARKED}`,
      'Host: a\u0000b',
    ),
    fc.string({ unit: 'grapheme', maxLength: 40 }).map((v) => `X-Grapheme: ${v.replace(/[\r\n]/g, '')}`),
  ),
  { minLength: 1, maxLength: 3 },
)
