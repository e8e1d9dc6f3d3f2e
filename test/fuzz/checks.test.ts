/**
 * The fuzz's verdicts on made-up answers: each rule does fail when broken, so a green fuzz run
 * means the server kept the rules, not that a check could not see.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HSTS_HEADER, PROFILE_HEADERS } from '../../src/core/headers/index.ts'
import { type CheckContext, check } from './checks.ts'
import type { Operation } from './operations.ts'
import type { RequestSpec } from './requests.ts'
import type { Answer } from './send.ts'

const MARKER = 'mqtestmarker'

const spec = (overrides: Partial<RequestSpec> = {}): RequestSpec => ({
  route: 'GET /me',
  kind: 'test',
  channel: 'http',
  method: 'GET',
  target: '/me',
  host: null,
  headers: [],
  body: null,
  auth: { mode: 'bearer', k: 0 },
  rawLines: [],
  rawLength: true,
  marker: MARKER,
  ...overrides,
})

const me: Operation = {
  method: 'GET',
  path: '/me',
  name: 'GET /me',
  pathParams: [],
  bodies: {},
  secured: true,
  responses: {
    200: {
      type: 'object',
      required: ['id', 'email'],
      properties: { id: { type: 'integer' }, email: { type: 'string' } },
    },
    401: undefined,
  },
}

const context = (overrides: Partial<CheckContext> = {}): CheckContext => ({
  production: false,
  timeBoundMs: 5000,
  operation: me,
  resolve: (schema) => schema,
  ...overrides,
})

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Answer {
  return {
    status,
    headers: {
      ...PROFILE_HEADERS.api,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    },
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    ms: 3,
  }
}

const rules = (a: Answer, s = spec(), c = context()) => check(s, a, c).map((v) => v.rule)

describe('fuzz checks', () => {
  it('pass a documented success and an error of our shape', () => {
    assert.deepEqual(rules(answer(200, { id: 1, email: 'a@b.co' })), [])
    assert.deepEqual(rules(answer(401, { detail: 'Not authenticated', code: 'NOT_AUTHENTICATED' })), [])
  })

  it('fail any 5xx, 503 included', () => {
    assert.ok(rules(answer(500, { detail: 'x', code: 'INTERNAL' })).includes('5xx'))
    assert.ok(rules(answer(503, { detail: 'x', code: 'STORE_UNAVAILABLE' })).includes('5xx'))
  })

  it('fail an error that is not {"detail","code"} JSON', () => {
    assert.ok(rules(answer(400, 'Bad Request', { 'content-type': 'text/plain' })).includes('error-not-json'))
    assert.ok(rules(answer(400, '{"detail":', {})).includes('error-not-json'))
    assert.ok(rules(answer(404, { message: 'Not Found', statusCode: 404 })).includes('error-shape'))
    assert.ok(rules(answer(404, { detail: 'x', code: 'x', extra: 1 })).includes('error-shape'))
  })

  it('fail a success off its documented shape, an undocumented one, or a cacheable one', () => {
    assert.ok(rules(answer(200, { id: '1', email: 'a@b.co' })).includes('success-shape'))
    assert.ok(rules(answer(200, { email: 'a@b.co' })).includes('success-shape'))
    assert.ok(rules(answer(202, { id: 1, email: 'a@b.co' })).includes('undocumented-success'))
    assert.ok(
      rules(answer(200, { id: 1, email: 'a@b.co' }, { 'cache-control': 'max-age=60' })).includes(
        'cache-control',
      ),
    )
  })

  it('fail a missing or altered security header, and a missing HSTS in production', () => {
    const { 'x-content-type-options': _dropped, ...rest } = PROFILE_HEADERS.api
    const missing = {
      ...answer(200, { id: 1, email: 'a@b.co' }),
      headers: { ...rest, 'content-type': 'application/json', 'cache-control': 'no-store' },
    }
    assert.ok(rules(missing).includes('security-headers'))
    assert.ok(
      rules(
        answer(200, { id: 1, email: 'a@b.co' }, { 'content-security-policy': "default-src 'self'" }),
      ).includes('security-headers'),
    )
    const ok = answer(200, { id: 1, email: 'a@b.co' })
    assert.ok(rules(ok, spec(), context({ production: true })).includes('security-headers'))
    assert.deepEqual(
      rules(
        answer(200, { id: 1, email: 'a@b.co' }, { [HSTS_HEADER[0]]: HSTS_HEADER[1] }),
        spec(),
        context({ production: true }),
      ),
      [],
    )
  })

  it('fail the marker echoed in the body or a header, escaped or not', () => {
    assert.ok(
      rules(
        answer(422, {
          detail: [{ loc: ['body', `<${MARKER}>`], msg: 'x', type: 'x' }],
          code: 'VALIDATION_FAILED',
        }),
      ).includes('echo'),
    )
    assert.ok(rules(answer(400, { detail: `\\u003c${MARKER}`, code: 'MALFORMED_REQUEST' })).includes('echo'))
    assert.ok(
      rules(answer(400, { detail: 'x', code: 'MALFORMED_REQUEST' }, { 'x-echo': MARKER })).includes('echo'),
    )
  })

  it('fail a hang, a slow answer, no answer, and content in a HEAD answer', () => {
    const none = { status: 0, headers: {}, body: Buffer.alloc(0), ms: 5000 }
    assert.deepEqual(rules({ ...none, failure: 'no answer within 5000 ms (request written)' }), ['hang'])
    assert.deepEqual(rules({ ...none, failure: 'connection closed without an answer (0 bytes received)' }), [
      'no-answer',
    ])
    assert.deepEqual(
      rules(
        { ...none, failure: 'connection: Parse Error: Data after `Connection: close`' },
        spec({ method: 'HEAD' }),
      ),
      ['head-with-body'],
    )
    assert.ok(rules({ ...answer(200, { id: 1, email: 'a@b.co' }), ms: 6000 }).includes('slow'))
  })
})
