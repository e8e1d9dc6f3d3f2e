/**
 * One fuzz request as data (what fast-check generates and prints), built for every operation of
 * /openapi.json plus paths no route has. Credentials, this server's host and the marker are slots
 * (test/fuzz/slots.ts), filled when the request is sent.
 */
import fc from 'fast-check'
import {
  type Body,
  boundaryArb,
  encode,
  FORM_TYPE,
  garbageBody,
  JSON_TYPE,
  MULTIPART_TYPE,
} from './bodies.ts'
import { extraHeaders, type Header, oddContentType, rawOnlyHeaderLines, SELF_HOST } from './headers.ts'
import type { Operation } from './operations.ts'
import { type Json, nearMiss, type Schema, validValue } from './schema-values.ts'
import { bindSlots, MARK, MARKED, slot } from './slots.ts'

/** How a request is authenticated, as user slot k. */
export type AuthMode =
  | 'none'
  | 'bearer'
  | 'cookie-csrf'
  | 'cookie'
  | 'cookie-bad-csrf'
  | 'bearer+cookie'
  | 'stale-bearer'
  | 'stale-cookie'

export interface RequestSpec {
  /** The operation aimed at (`POST /register`), or `unrouted`. */
  route: string
  kind: string
  /** http: Node's keep-alive client; raw: bytes on a fresh socket (what Node's client refuses to send). */
  channel: 'http' | 'raw'
  method: string
  target: string
  /** The Host header; null sends none. */
  host: string | null
  headers: Header[]
  body: Body | null
  auth: { mode: AuthMode; k: number }
  /** raw only: header lines written as they are, and whether Content-Length is added as well. */
  rawLines: string[]
  rawLength: boolean
  /** This request's marker: letters and digits that no answer may contain. */
  marker: string
}

const COMMON_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
/** Methods Node's parser knows but no route uses, and ones it does not know at all. */
const ODD_METHODS = [
  'TRACE',
  'PROPFIND',
  'MKCOL',
  'SEARCH',
  'QUERY',
  'PURGE',
  'M-SEARCH',
  'LINK',
  'LOCK',
  'REPORT',
  'SOURCE',
  'BREW',
  'FOO',
  'X',
]
const RAW_ONLY_METHODS = ['get', 'Post', 'CONNECT', 'G ET', 'GET\u0000', '', 'PRI', '\u00e9T']

/** `arbitrary` in `percent` % of the draws, null otherwise (null is what shrinking goes to). */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(null) }, { weight: percent, arbitrary })
}

const markerArb = fc.stringMatching(/^[a-hj-km-np-z2-9]{10}$/).map((s) => `mq${s}`)
const enc = encodeURIComponent

const queryArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('') },
  { weight: 2, arbitrary: fc.webQueryParameters().map((q) => (q ? `?${q}` : '')) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      `?${enc(MARKED)}=${enc(MARKED)}`,
      `?email=${enc(MARKED)}`,
      '?a=1&a=2&a=3',
      '?__proto__[x]=1&constructor[prototype][y]=2',
      '?%',
      '?%ZZ=%00',
      '?',
      '??',
      '?#',
      `?x=${'q'.repeat(3000)}`,
      `?${Array.from({ length: 300 }, (_, i) => `k${i}=v`).join('&')}`,
    ),
  },
)

function paramArb(param: { name: string; schema: Schema }): fc.Arbitrary<string> {
  const valid =
    param.name === 'user_id'
      ? fc.integer({ min: 0, max: 5 }).map((k) => slot('userid', k))
      : fc.integer({ min: 0, max: 5 }).map((k) => slot('session', k))
  const pattern = param.schema.pattern ? fc.stringMatching(new RegExp(param.schema.pattern)) : fc.string()
  const garbage = fc.oneof(
    fc.webSegment(),
    fc.constantFrom(
      '..',
      '%2e%2e',
      '%2F',
      '%',
      '%ZZ',
      '%00',
      '%C0%AF',
      '%F0%9F%98%80',
      enc(MARKED),
      'a'.repeat(150),
      '-1',
      '1e3',
      '9'.repeat(20),
      '0',
      '000000000000001',
      'null',
      '__proto__',
    ),
  )
  return fc.oneof(
    { weight: 5, arbitrary: valid },
    { weight: 2, arbitrary: pattern },
    { weight: 3, arbitrary: garbage },
  )
}

function pathArb(operation: Operation): fc.Arbitrary<string> {
  if (operation.pathParams.length === 0) return fc.constant(operation.path)
  return fc.tuple(...operation.pathParams.map(paramArb)).map((values) => {
    let path = operation.path
    operation.pathParams.forEach((param, i) => {
      path = path.replace(`{${param.name}}`, values[i]!)
    })
    return path
  })
}

/** Slot weights: most requests as a live user, a few with credentials that were revoked or forged. */
function authArb(secured: boolean): fc.Arbitrary<{ mode: AuthMode; k: number }> {
  const modes: { weight: number; arbitrary: fc.Arbitrary<AuthMode> }[] = secured
    ? [
        { weight: 35, arbitrary: fc.constant('bearer') },
        { weight: 25, arbitrary: fc.constant('cookie-csrf') },
        { weight: 5, arbitrary: fc.constant('cookie') },
        { weight: 5, arbitrary: fc.constant('cookie-bad-csrf') },
        { weight: 5, arbitrary: fc.constant('bearer+cookie') },
        { weight: 5, arbitrary: fc.constantFrom('stale-bearer', 'stale-cookie') },
        { weight: 20, arbitrary: fc.constant('none') },
      ]
    : [
        { weight: 80, arbitrary: fc.constant('none') },
        { weight: 10, arbitrary: fc.constant('bearer') },
        {
          weight: 10,
          arbitrary: fc.constantFrom('cookie-csrf', 'cookie', 'stale-cookie', 'cookie-bad-csrf'),
        },
      ]
  return fc.record({ mode: fc.oneof(...modes), k: fc.integer({ min: 0, max: 5 }) })
}

function bodyArb(operation: Operation, bodyLimit: number): fc.Arbitrary<{ body: Body | null; kind: string }> {
  const types = Object.keys(operation.bodies)
  if (types.length === 0) {
    return fc.oneof(
      { weight: 17, arbitrary: fc.constant({ body: null, kind: 'no-body' }) },
      {
        weight: 3,
        arbitrary: garbageBody(JSON_TYPE, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, bodyLimit).map(
          (body) => ({
            body,
            kind: `unexpected-${body.kind}`,
          }),
        ),
      },
    )
  }
  const otherTypes = [JSON_TYPE, FORM_TYPE, MULTIPART_TYPE, 'text/plain'].filter((t) => !types.includes(t))
  return fc.constantFrom(...types).chain((type) => {
    const schema = operation.bodies[type]!
    const valid = validValue(schema)
    return fc.oneof(
      {
        weight: 45,
        arbitrary: fc
          .tuple(valid, boundaryArb)
          .map(([v, b]) => ({ body: encode(type, v, b), kind: `valid-${type}` })),
      },
      {
        weight: 22,
        arbitrary: fc
          .tuple(nearMiss(schema), boundaryArb)
          .map(([v, b]) => ({ body: encode(type, v, b), kind: `near-miss-${type}` })),
      },
      {
        weight: 20,
        arbitrary: garbageBody(type, valid, bodyLimit).map((body) => ({
          body,
          kind: `garbage-${body.kind}`,
        })),
      },
      { weight: 5, arbitrary: fc.constant({ body: null, kind: 'missing-body' }) },
      {
        weight: 8,
        arbitrary: fc.tuple(valid, fc.constantFrom(...otherTypes), boundaryArb).map(([v, other, b]) => {
          const body = encode(other, v, b)
          return {
            body: other === 'text/plain' ? { ...body, contentType: other } : body,
            kind: `other-type-${other}`,
          }
        }),
      },
    )
  })
}

/** A request aimed at one operation. */
export function operationRequest(operation: Operation, bodyLimit: number): fc.Arbitrary<RequestSpec> {
  return fc
    .record({
      method: fc.oneof(
        { weight: 17, arbitrary: fc.constant(operation.method) },
        { weight: 2, arbitrary: fc.constantFrom(...COMMON_METHODS) },
        { weight: 1, arbitrary: fc.constantFrom(...ODD_METHODS) },
      ),
      path: pathArb(operation),
      query: queryArb,
      body: bodyArb(operation, bodyLimit),
      contentType: sometimes(oddContentType, 10),
      headers: extraHeaders,
      auth: authArb(operation.secured),
      raw: rawArb,
      marker: markerArb,
      // Most requests use one user's slots throughout: its email with its password, its own id.
      bound: fc.oneof(
        { weight: 7, arbitrary: fc.constant(true) },
        { weight: 3, arbitrary: fc.constant(false) },
      ),
    })
    .map(({ method, path, query, body, contentType, headers, auth, raw, marker, bound }) => {
      const bind = (text: string) => (bound ? bindSlots(text, auth.k) : text)
      const typed = body.body && contentType !== null ? { ...body.body, contentType } : body.body
      const finalBody =
        typed && bound
          ? { ...typed, bytes: Buffer.from(bind(typed.bytes.toString('latin1')), 'latin1') }
          : typed
      return {
        route: operation.name,
        kind: contentType === null ? body.kind : `${body.kind}+odd-content-type`,
        channel: raw === null ? 'http' : 'raw',
        method: raw?.method ?? method,
        target: bind(path) + query,
        host: SELF_HOST,
        headers,
        body: finalBody,
        auth,
        rawLines: raw?.lines ?? [],
        rawLength: raw?.length ?? true,
        marker,
      } satisfies RequestSpec
    })
}

/** One request in ten goes over a raw socket: odd framing, methods and header bytes. */
const rawArb = sometimes(
  fc.record({
    method: sometimes(fc.constantFrom(...RAW_ONLY_METHODS), 30).map((m) => m ?? undefined),
    lines: fc.oneof(fc.constant<string[]>([]), rawOnlyHeaderLines),
    length: fc.boolean(),
  }),
  10,
)

const KNOWN_PATHS = [
  '/register',
  '/token',
  '/me',
  '/login',
  '/logout',
  '/sessions',
  '/csrf',
  '/healthz',
  '/readyz',
  '/openapi.json',
  '/docs',
  '/docs/static/index.html',
  '/docs/json',
  '/docs/ui-config.json',
]

/** Paths no operation has (or nearly has): unknown, mis-cased, encoded, traversal, overlong, marked. */
const unroutedPath: fc.Arbitrary<string> = fc.oneof(
  fc.webPath().map((p) => p || '/'),
  fc
    .constantFrom(...KNOWN_PATHS)
    .chain((p) =>
      fc.constantFrom(
        p,
        `${p}/`,
        p.toUpperCase(),
        `${p}//`,
        `${p}/..`,
        `${p}%2F`,
        `${p}%00`,
        `${p};a=b`,
        `${p}/${enc(MARKED)}`,
        `/${enc(MARKED)}${p}`,
      ),
    ),
  fc.constantFrom(
    '/',
    '//',
    '/..',
    '/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/%',
    '/%ZZ',
    '/%C0%AE%C0%AE/',
    '/%F0%9F%98%80',
    `/${enc(MARKED)}`,
    `/${MARK}`,
    `/${'p'.repeat(4000)}`,
    `/${'a/'.repeat(500)}`,
    '*',
    'http://127.0.0.1/register',
    'http://evil.example/me',
    '/docs/static/../../package.json',
    '/docs/%2e%2e/%2e%2e/package.json',
  ),
)

export function unroutedRequest(bodyLimit: number): fc.Arbitrary<RequestSpec> {
  return fc
    .record({
      method: fc.constantFrom(...COMMON_METHODS, ...ODD_METHODS),
      path: unroutedPath,
      query: queryArb,
      body: sometimes(
        garbageBody(JSON_TYPE, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, bodyLimit),
        30,
      ),
      headers: extraHeaders,
      auth: authArb(false),
      raw: rawArb,
      marker: markerArb,
    })
    .map(({ method, path, query, body, headers, auth, raw, marker }) => ({
      route: 'unrouted',
      kind: body ? `unrouted-${body.kind}` : 'unrouted',
      channel: raw === null ? 'http' : 'raw',
      method: raw?.method ?? method,
      target: path + query,
      host: SELF_HOST,
      headers,
      body,
      auth,
      rawLines: raw?.lines ?? [],
      rawLength: raw?.length ?? true,
      marker,
    }))
}

/** Every operation equally often (so each gets hundreds of requests), plus unrouted ones. */
export function requestArb(operations: Operation[], bodyLimit: number): fc.Arbitrary<RequestSpec> {
  return fc.oneof(
    ...operations.map((operation) => ({ weight: 10, arbitrary: operationRequest(operation, bodyLimit) })),
    { weight: 3 * 10, arbitrary: unroutedRequest(bodyLimit) },
  )
}
