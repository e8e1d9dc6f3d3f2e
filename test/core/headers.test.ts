import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import {
  API_CSP,
  buildSecurityHeaders,
  CLEAR_SITE_DATA_COOKIES,
  COMMON_HEADERS,
  type CspDirectives,
  type HeaderProfile,
  HTML_CSP,
  NO_STORE,
  PROFILE_HEADERS,
  SWAGGER_UI_LOGO_STYLE_HASH,
  serializeCsp,
} from '../../src/core/headers/index.ts'

const PROFILES: HeaderProfile[] = ['api', 'html', 'docs']
const asObject = (headers: ReadonlyArray<readonly [string, string]>) => Object.fromEntries(headers)

describe('security header profiles', () => {
  test('the api profile is exactly the common headers, a no-content CSP and no-referrer', () => {
    assert.deepEqual(asObject(buildSecurityHeaders({ profile: 'api', hsts: false })), {
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'permissions-policy': COMMON_HEADERS['permissions-policy'],
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
      'referrer-policy': 'no-referrer',
    })
  })

  test('the html profile loads everything from its own origin and forbids framing', () => {
    const headers = asObject(buildSecurityHeaders({ profile: 'html', hsts: false }))
    assert.equal(
      headers['content-security-policy'],
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    assert.equal(headers['referrer-policy'], 'strict-origin-when-cross-origin')
  })

  test('the docs profile differs from html only by the hash of the Swagger UI logo stylesheet', () => {
    const html = asObject(buildSecurityHeaders({ profile: 'html', hsts: false }))
    const docs = asObject(buildSecurityHeaders({ profile: 'docs', hsts: false }))
    assert.equal(
      docs['content-security-policy'],
      html['content-security-policy']?.replace(
        "style-src 'self'",
        `style-src 'self' ${SWAGGER_UI_LOGO_STYLE_HASH}`,
      ),
    )
    assert.deepEqual({ ...docs, 'content-security-policy': '' }, { ...html, 'content-security-policy': '' })
  })

  test('the Swagger UI logo hash matches the stylesheet in the installed @fastify/swagger-ui', () => {
    // Fails when an upgrade changes the logo, so the docs CSP is revisited rather than silently stale.
    const require = createRequire(import.meta.url)
    const root = dirname(require.resolve('@fastify/swagger-ui/package.json'))
    const preset = readFileSync(join(root, 'static', 'swagger-ui-standalone-preset.js'), 'utf8')
    const styles = [...preset.matchAll(/createElement\("style",null,"([^"]*)"\)/g)].map(
      (match) => match[1] ?? '',
    )
    assert.equal(styles.length, 1)
    const hash = createHash('sha256')
      .update(styles[0] ?? '')
      .digest('base64')
    assert.equal(SWAGGER_UI_LOGO_STYLE_HASH, `'sha256-${hash}'`)
  })

  for (const profile of PROFILES) {
    test(`the ${profile} profile sends every common header`, () => {
      const headers = asObject(buildSecurityHeaders({ profile, hsts: false }))
      for (const [name, value] of Object.entries(COMMON_HEADERS)) assert.equal(headers[name], value, name)
    })

    test(`the ${profile} profile allows no inline or evaluated script and no framing`, () => {
      const csp = asObject(buildSecurityHeaders({ profile, hsts: false }))['content-security-policy'] ?? ''
      assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|\*/)
      assert.match(csp, /frame-ancestors 'none'/)
    })

    test(`the ${profile} profile sends neither X-XSS-Protection, X-Powered-By nor HSTS unless asked`, () => {
      const names = buildSecurityHeaders({ profile, hsts: false }).map(([name]) => name)
      for (const absent of ['x-xss-protection', 'x-powered-by', 'strict-transport-security']) {
        assert.equal(names.includes(absent), false, absent)
      }
    })

    test(`the ${profile} profile uses lowercase header names`, () => {
      for (const [name] of buildSecurityHeaders({ profile, hsts: true }))
        assert.equal(name, name.toLowerCase())
    })
  }

  test('hsts: true adds one year on every subdomain, without preload', () => {
    const headers = asObject(buildSecurityHeaders({ profile: 'api', hsts: true }))
    assert.equal(headers['strict-transport-security'], 'max-age=31536000; includeSubDomains')
  })

  test('an override replaces a header, whatever the case of its name', () => {
    const headers = buildSecurityHeaders({
      profile: 'html',
      hsts: false,
      overrides: { 'Content-Security-Policy': "default-src 'self'" },
    })
    assert.deepEqual(
      headers.filter(([name]) => name === 'content-security-policy'),
      [['content-security-policy', "default-src 'self'"]],
    )
    assert.equal(
      headers.some(([name]) => name !== name.toLowerCase()),
      false,
    )
  })

  test('a null override removes the header, and a new name adds one', () => {
    const headers = asObject(
      buildSecurityHeaders({
        profile: 'api',
        hsts: true,
        overrides: { 'x-frame-options': null, 'strict-transport-security': null, 'x-robots-tag': 'none' },
      }),
    )
    assert.equal('x-frame-options' in headers, false)
    assert.equal('strict-transport-security' in headers, false)
    assert.equal(headers['x-robots-tag'], 'none')
  })

  test('invalid options fail when the list is built, not on a request', () => {
    const invalid: Array<[string, unknown]> = [
      ['an unknown profile', { profile: 'json', hsts: false }],
      ['an inherited property as profile', { profile: 'constructor', hsts: false }],
      ['a non-boolean hsts', { profile: 'api', hsts: 'yes' }],
      ['a value with CRLF', { profile: 'api', hsts: false, overrides: { 'x-a': 'b\r\nset-cookie: x=1' } }],
      ['a value with NUL', { profile: 'api', hsts: false, overrides: { 'x-a': 'b\0' } }],
      ['a name with a space', { profile: 'api', hsts: false, overrides: { 'x a': 'b' } }],
      ['an empty name', { profile: 'api', hsts: false, overrides: { '': 'b' } }],
      ['a non-string value', { profile: 'api', hsts: false, overrides: { 'x-a': 1 } }],
    ]
    for (const [label, options] of invalid) {
      assert.throws(() => buildSecurityHeaders(options as Parameters<typeof buildSecurityHeaders>[0]), label)
    }
  })

  test('the built list and the tables are frozen', () => {
    const headers = buildSecurityHeaders({ profile: 'api', hsts: false })
    assert.equal(Object.isFrozen(headers), true)
    assert.equal(Object.isFrozen(headers[0]), true)
    for (const table of [
      COMMON_HEADERS,
      PROFILE_HEADERS,
      PROFILE_HEADERS.api,
      API_CSP,
      HTML_CSP['script-src'],
    ]) {
      assert.equal(Object.isFrozen(table), true)
    }
  })

  test('constants for authenticated responses and logout', () => {
    assert.equal(NO_STORE, 'no-store')
    assert.equal(CLEAR_SITE_DATA_COOKIES, '"cookies"')
  })
})

describe('CSP serialisation', () => {
  test('a directive table can be extended, e.g. to let the demo call the API origin', () => {
    const csp = serializeCsp({ ...HTML_CSP, 'connect-src': ["'self'", 'http://localhost:8000'] })
    assert.match(csp, /; connect-src 'self' http:\/\/localhost:8000$/)
  })

  test('a directive without sources is written bare', () => {
    assert.equal(serializeCsp({ 'upgrade-insecure-requests': [] }), 'upgrade-insecure-requests')
  })

  test('a source or name that would inject another directive or policy is refused', () => {
    const invalid: CspDirectives[] = [
      { 'script-src': ["'self'; script-src *"] },
      { 'script-src': ["'self', script-src *"] },
      { 'script-src': ["'self' https:"] },
      { 'script-src': [''] },
      { 'Script-Src': ["'self'"] },
      { 'script-src;': ["'self'"] },
    ]
    for (const directives of invalid)
      assert.throws(() => serializeCsp(directives), JSON.stringify(directives))
  })
})
