import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  createCorsPolicy,
  DEFAULT_CORS_ALLOWED_HEADERS,
  DEFAULT_CORS_METHODS,
  normalizeOrigin,
  parseOriginList,
} from '../../src/core/cors/index.ts'

describe('CORS policy', () => {
  test('defaults: credentials on, ten-minute preflight cache, the usual methods and headers', () => {
    const policy = createCorsPolicy({ origins: ['http://localhost:9000'] })
    assert.deepEqual(policy.origins, ['http://localhost:9000'])
    assert.equal(policy.credentials, true)
    assert.equal(policy.maxAgeSeconds, 600)
    assert.deepEqual(policy.methods, ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
    assert.deepEqual(policy.allowedHeaders, ['content-type', 'x-csrftoken', 'authorization'])
    assert.deepEqual(policy.exposedHeaders, [])
    assert.deepEqual(policy.methods, [...DEFAULT_CORS_METHODS])
    assert.deepEqual(policy.allowedHeaders, [...DEFAULT_CORS_ALLOWED_HEADERS])
  })

  test('the policy and its lists are frozen', () => {
    const policy = createCorsPolicy({ origins: ['http://localhost:9000'] })
    for (const value of [
      policy,
      policy.origins,
      policy.methods,
      policy.allowedHeaders,
      policy.exposedHeaders,
    ]) {
      assert.equal(Object.isFrozen(value), true)
    }
  })

  test('origins are stored in canonical form, without duplicates', () => {
    const policy = createCorsPolicy({
      origins: [
        'HTTP://LocalHost:9000',
        'http://localhost:9000',
        'https://app.example.com:443',
        'http://[::1]:80',
      ],
    })
    assert.deepEqual(policy.origins, ['http://localhost:9000', 'https://app.example.com', 'http://[::1]'])
  })

  test('header names are lowercased and methods kept as written', () => {
    const policy = createCorsPolicy({
      origins: [],
      methods: ['GET', 'POST'],
      allowedHeaders: ['X-Custom', 'Content-Type', 'content-type'],
      exposedHeaders: ['X-Request-Id'],
    })
    assert.deepEqual(policy.methods, ['GET', 'POST'])
    assert.deepEqual(policy.allowedHeaders, ['x-custom', 'content-type'])
    assert.deepEqual(policy.exposedHeaders, ['x-request-id'])
  })

  test("'*' with credentials is refused at creation", () => {
    assert.throws(() => createCorsPolicy({ origins: ['*'] }), /'\*' cannot be used with credentials/)
    assert.throws(() => createCorsPolicy({ origins: ['*'], credentials: true }), /credentials/)
  })

  test("'*' without credentials allows any origin but not a request without Origin", () => {
    const policy = createCorsPolicy({ origins: ['*'], credentials: false })
    assert.deepEqual(policy.origins, ['*'])
    assert.equal(policy.isAllowedOrigin('https://anyone.example'), true)
    assert.equal(policy.isAllowedOrigin(undefined), false)
    assert.equal(policy.isAllowedOrigin(''), false)
  })

  test("'*' listed with other origins is refused as ambiguous", () => {
    assert.throws(
      () => createCorsPolicy({ origins: ['*', 'http://localhost:9000'], credentials: false }),
      /do not list others/,
    )
  })

  test('a malformed origin is refused at creation, naming its index and value', () => {
    const malformed: unknown[] = [
      'localhost:9000',
      'http://localhost:9000/',
      'http://localhost:9000/app',
      'http://localhost:9000?x=1',
      'http://localhost:9000#top',
      'http://user:pass@localhost:9000',
      'http://localhost:9000\\',
      'null',
      '',
      ' ',
      ' http://localhost:9000',
      'http://',
      'http://*.example.com',
      'http://exa mple.com',
      'http://localhost:99999',
      'ftp://files.example',
      'file:///etc/passwd',
      'javascript:alert(1)',
      42,
      null,
    ]
    for (const origin of malformed) {
      assert.throws(
        () => createCorsPolicy({ origins: ['http://ok.example', origin as string], credentials: false }),
        (error: Error) =>
          error.message.includes('origins[1]') && error.message.includes(JSON.stringify(origin)),
        String(origin),
      )
    }
  })

  test('maxAgeSeconds must be a non-negative integer', () => {
    for (const maxAgeSeconds of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '600']) {
      assert.throws(
        () => createCorsPolicy({ origins: [], maxAgeSeconds: maxAgeSeconds as number }),
        /maxAgeSeconds/,
        String(maxAgeSeconds),
      )
    }
    assert.equal(createCorsPolicy({ origins: [], maxAgeSeconds: 0 }).maxAgeSeconds, 0)
  })

  test('credentials must be a boolean', () => {
    assert.throws(() => createCorsPolicy({ origins: [], credentials: 'false' as unknown as boolean }), {
      name: 'TypeError',
      message: /credentials/,
    })
  })

  test('origins must be an array', () => {
    assert.throws(() => createCorsPolicy({ origins: 'http://localhost:9000' as unknown as string[] }), {
      name: 'TypeError',
      message: /origins/,
    })
  })

  test('methods and header names must be HTTP tokens', () => {
    const invalid: Array<[string, Partial<Parameters<typeof createCorsPolicy>[0]>]> = [
      ['a method with a space', { methods: ['GET POST'] }],
      ['an empty method', { methods: [''] }],
      ['a method with a newline', { methods: ['GE\nT'] }],
      ['a header with a colon', { allowedHeaders: ['x-a:b'] }],
      ['an exposed header with a comma', { exposedHeaders: ['a,b'] }],
      ['a non-string header', { allowedHeaders: [1 as unknown as string] }],
    ]
    for (const [label, options] of invalid) {
      assert.throws(() => createCorsPolicy({ origins: [], ...options }), /is not an HTTP token/, label)
    }
  })

  test("'*' in methods or headers is refused with credentials and kept without", () => {
    assert.throws(() => createCorsPolicy({ origins: [], methods: ['*'] }), /methods cannot contain '\*'/)
    assert.throws(() => createCorsPolicy({ origins: [], allowedHeaders: ['*'] }), /allowedHeaders/)
    assert.throws(() => createCorsPolicy({ origins: [], exposedHeaders: ['*'] }), /exposedHeaders/)
    const open = createCorsPolicy({
      origins: ['*'],
      credentials: false,
      methods: ['*'],
      allowedHeaders: ['*'],
    })
    assert.deepEqual(open.methods, ['*'])
    assert.deepEqual(open.allowedHeaders, ['*'])
  })

  describe('origin matching is exact', () => {
    const policy = createCorsPolicy({ origins: ['http://localhost:9000', 'https://app.example.com'] })

    for (const origin of ['http://localhost:9000', 'HTTP://LOCALHOST:9000', 'https://app.example.com:443']) {
      test(`allows ${origin}`, () => {
        assert.equal(policy.isAllowedOrigin(origin), true)
      })
    }

    const lookAlikes = [
      'http://localhost:9000.evil.example',
      'http://evil-localhost:9000',
      'http://localhost:900',
      'http://localhost:90000',
      'http://localhost',
      'https://localhost:9000',
      'http://127.0.0.1:9000',
      'http://sub.localhost:9000',
      'http://localhost:9000/',
      'http://localhost:9000 ',
      'https://app.example.com.attacker.net',
      'https://evilapp.example.com',
      'https://example.com',
      'http://app.example.com',
      'null',
      '',
      undefined,
    ]
    for (const origin of lookAlikes) {
      test(`refuses ${JSON.stringify(origin)}`, () => {
        assert.equal(policy.isAllowedOrigin(origin), false)
      })
    }
  })

  test('an empty allowlist allows no origin', () => {
    assert.equal(createCorsPolicy({ origins: [] }).isAllowedOrigin('http://localhost:9000'), false)
  })
})

describe('origins', () => {
  test('normalizeOrigin returns the browser serialisation or null', () => {
    assert.equal(normalizeOrigin('HTTPS://Example.COM:443'), 'https://example.com')
    assert.equal(normalizeOrigin('http://münchen.example'), 'http://xn--mnchen-3ya.example')
    assert.equal(normalizeOrigin('http://example.com/'), null)
    assert.equal(normalizeOrigin('http://a..b'), null)
    assert.equal(normalizeOrigin(`http://${'a'.repeat(400)}.example`), null)
  })

  test('parseOriginList splits on commas, trims and drops empty entries', () => {
    assert.deepEqual(parseOriginList(' http://localhost:9000 , https://app.example.com,,'), [
      'http://localhost:9000',
      'https://app.example.com',
    ])
    assert.deepEqual(parseOriginList(''), [])
    assert.deepEqual(parseOriginList(' , '), [])
  })

  test('parseOriginList output goes straight into createCorsPolicy', () => {
    const policy = createCorsPolicy({
      origins: parseOriginList('http://localhost:9000,http://localhost:9001'),
    })
    assert.equal(policy.isAllowedOrigin('http://localhost:9001'), true)
  })
})
