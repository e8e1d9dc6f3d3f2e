import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import {
  type CrossSiteRequest,
  createCrossSiteCheck,
  createCsrfTokens,
  isSameToken,
  isUnsafeMethod,
  SAFE_METHODS,
} from '../../src/core/csrf/index.ts'

const SECRET = 'a-test-secret-that-is-long-enough-0123456789'
const sessionOf = (token: string) => createHash('sha256').update(token).digest('hex')
const SESSION_A = sessionOf('gth_session-a')
const SESSION_B = sessionOf('gth_session-b')
const PRE_LOGIN = ''

/** Changes one character of `token` at `index` to another of the base64url alphabet. */
function flipCharacter(token: string, index: number): string {
  const replacement = token[index] === 'A' ? 'B' : 'A'
  return token.slice(0, index) + replacement + token.slice(index + 1)
}

describe('signed, session-bound CSRF tokens', () => {
  const tokens = createCsrfTokens(SECRET)

  test('a token verifies for the session binding it was issued for', () => {
    assert.equal(tokens.verify(tokens.issue(SESSION_A), SESSION_A), true)
    assert.equal(tokens.verify(tokens.issue(PRE_LOGIN), PRE_LOGIN), true)
  })

  test('a token is a base64url nonce and a base64url MAC of 32 bytes each, joined by a dot', () => {
    const token = tokens.issue(SESSION_A)
    assert.match(token, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/)
  })

  test('every issued token is different, even for the same session', () => {
    const issued = new Set(Array.from({ length: 50 }, () => tokens.issue(SESSION_A)))
    assert.equal(issued.size, 50)
  })

  test('a token minted for one session is refused for another', () => {
    assert.equal(tokens.verify(tokens.issue(SESSION_A), SESSION_B), false)
  })

  test('a token minted before login is refused after login (login CSRF)', () => {
    assert.equal(tokens.verify(tokens.issue(PRE_LOGIN), SESSION_A), false)
  })

  test('a token minted for a session is refused once the user is logged out', () => {
    assert.equal(tokens.verify(tokens.issue(SESSION_A), PRE_LOGIN), false)
  })

  test('a token signed with another secret is refused', () => {
    const other = createCsrfTokens('another-secret-that-is-long-enough-987654')
    assert.equal(tokens.verify(other.issue(SESSION_A), SESSION_A), false)
  })

  test('a binding that differs by one character, a NUL or a dot is refused', () => {
    const token = tokens.issue('ab')
    for (const binding of ['a', 'abc', 'ab\0', 'ab.', '\0ab']) {
      assert.equal(tokens.verify(token, binding), false, JSON.stringify(binding))
    }
  })

  test('a tampered MAC, nonce or swapped halves are refused', () => {
    const token = tokens.issue(SESSION_A)
    const [nonce = '', mac = ''] = token.split('.')
    const tampered = {
      'first MAC character': flipCharacter(token, 44),
      'middle MAC character': flipCharacter(token, 60),
      'first nonce character': flipCharacter(token, 0),
      'middle nonce character': flipCharacter(token, 20),
      'halves swapped': `${mac}.${nonce}`,
      'MAC of another token': `${nonce}.${tokens.issue(SESSION_A).split('.')[1]}`,
    }
    for (const [label, value] of Object.entries(tampered)) {
      assert.equal(tokens.verify(value, SESSION_A), false, label)
    }
  })

  test('a non-canonical base64url spelling of a valid MAC is refused', () => {
    const token = tokens.issue(SESSION_A)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    // The last of 43 characters carries 4 data bits and 2 unused ones; setting an unused bit
    // gives a string that Node decodes to the very same bytes.
    const last = alphabet.indexOf(token.at(-1) ?? '')
    const lenient = token.slice(0, -1) + alphabet[last + 1]
    assert.deepEqual(
      Buffer.from(lenient.split('.')[1] ?? '', 'base64url'),
      Buffer.from(token.split('.')[1] ?? '', 'base64url'),
    )
    assert.equal(tokens.verify(lenient, SESSION_A), false)
  })

  test('malformed tokens are refused without throwing', () => {
    const token = tokens.issue(SESSION_A)
    const [nonce = '', mac = ''] = token.split('.')
    const malformed: Record<string, unknown> = {
      empty: '',
      'just a dot': '.',
      'nonce only': nonce,
      'nonce and dot': `${nonce}.`,
      'dot and MAC': `.${mac}`,
      'truncated by one character': token.slice(0, -1),
      'truncated to half': token.slice(0, 40),
      'one character too many': `${token}A`,
      'three parts': `${token}.${mac}`,
      'standard base64 alphabet': token.replace(/-/g, '+').replace(/_/g, '/').replace(/^./, '+'),
      'base64 padding': `${nonce}=.${mac}=`,
      'surrounding whitespace': ` ${token} `,
      'percent-encoded': encodeURIComponent(`${token}+`),
      'non-ASCII characters': `${nonce.slice(0, -1)}é.${mac}`,
      'colon separator': `${nonce}:${mac}`,
      '201 characters': 'A'.repeat(201),
      'valid token followed by padding to 250 characters': token + 'A'.repeat(250 - token.length),
      'one megabyte': 'A'.repeat(1_000_000),
      undefined: undefined,
      null: null,
      number: 42,
      object: { toString: () => token },
    }
    for (const [label, value] of Object.entries(malformed)) {
      assert.equal(tokens.verify(value as string, SESSION_A), false, label)
    }
  })

  test('verify refuses a non-string session binding instead of throwing', () => {
    const token = tokens.issue(SESSION_A)
    assert.equal(tokens.verify(token, undefined as unknown as string), false)
  })

  test('issue refuses a non-string session binding with a TypeError naming it', () => {
    assert.throws(() => tokens.issue(undefined as unknown as string), {
      name: 'TypeError',
      message: /sessionBinding/,
    })
  })

  test('the secret must be a string of at least 32 characters', () => {
    for (const secret of ['', 'short', 'x'.repeat(31), undefined, null, 1e40]) {
      assert.throws(() => createCsrfTokens(secret as string), { name: 'TypeError', message: /secret/ })
    }
    assert.doesNotThrow(() => createCsrfTokens('x'.repeat(32)))
  })
})

describe('double-submit comparison', () => {
  test('the same token in cookie and header matches', () => {
    const token = createCsrfTokens(SECRET).issue(SESSION_A)
    assert.equal(isSameToken(token, token), true)
  })

  test('different, missing, empty or oversized values never match', () => {
    const tokens = createCsrfTokens(SECRET)
    const token = tokens.issue(SESSION_A)
    const cases: Array<[string, string | undefined, string | undefined]> = [
      ['another token', token, tokens.issue(SESSION_A)],
      ['a prefix of the token', token, token.slice(0, -1)],
      ['a different case', token, token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase()],
      ['no cookie', undefined, token],
      ['no header', token, undefined],
      ['neither', undefined, undefined],
      ['both empty', '', ''],
      ['empty cookie', '', token],
      ['empty header', token, ''],
      ['both 201 characters and equal', 'A'.repeat(201), 'A'.repeat(201)],
    ]
    for (const [label, cookie, header] of cases) {
      assert.equal(isSameToken(cookie, header), false, label)
    }
  })
})

describe('safe methods', () => {
  test('GET, HEAD, OPTIONS and TRACE are the safe methods of RFC 9110', () => {
    assert.deepEqual([...SAFE_METHODS], ['GET', 'HEAD', 'OPTIONS', 'TRACE'])
    for (const method of SAFE_METHODS) assert.equal(isUnsafeMethod(method), false, method)
  })

  test('every other method, and a method in the wrong case, is unsafe', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'PROPFIND', 'get', 'Post', '']) {
      assert.equal(isUnsafeMethod(method), true, method)
    }
  })
})

describe('cross-site check (Fetch Metadata, then Origin)', () => {
  const isRefused = createCrossSiteCheck({ trustedOrigins: ['http://localhost:9000'] })
  const api = { host: 'localhost:8000', protocolIsHttps: false }
  const post = (extra: Partial<CrossSiteRequest>): CrossSiteRequest => ({ method: 'POST', ...api, ...extra })

  const allowed: Array<[string, CrossSiteRequest]> = [
    ['a cross-site GET', { method: 'GET', secFetchSite: 'cross-site', origin: 'https://evil.example' }],
    ['a cross-site HEAD', { method: 'HEAD', secFetchSite: 'cross-site', origin: 'https://evil.example' }],
    [
      'a cross-site OPTIONS',
      { method: 'OPTIONS', secFetchSite: 'cross-site', origin: 'https://evil.example' },
    ],
    ['a same-origin POST', post({ secFetchSite: 'same-origin', origin: 'http://localhost:8000' })],
    ['a user-initiated POST (Sec-Fetch-Site: none)', post({ secFetchSite: 'none' })],
    [
      'a same-site POST from the trusted front end',
      post({ secFetchSite: 'same-site', origin: 'http://localhost:9000' }),
    ],
    [
      'a cross-site POST from the trusted front end',
      post({ secFetchSite: 'cross-site', origin: 'http://localhost:9000' }),
    ],
    [
      'a trusted Origin in another case',
      post({ secFetchSite: 'same-site', origin: 'HTTP://LOCALHOST:9000' }),
    ],
    ['a POST without Sec-Fetch-Site and without Origin (curl)', post({})],
    ['a POST from our own origin without Sec-Fetch-Site', post({ origin: 'http://localhost:8000' })],
    ['a POST from the trusted front end without Sec-Fetch-Site', post({ origin: 'http://localhost:9000' })],
    [
      'our own https origin written with its default port',
      {
        method: 'POST',
        host: 'api.example.com',
        protocolIsHttps: true,
        origin: 'https://api.example.com:443',
      },
    ],
    [
      'our own origin when the Host header carries the default port',
      {
        method: 'POST',
        host: 'api.example.com:443',
        protocolIsHttps: true,
        origin: 'https://api.example.com',
      },
    ],
  ]
  for (const [label, request] of allowed) {
    test(`allows ${label}`, () => {
      assert.equal(isRefused(request), false)
    })
  }

  const refused: Array<[string, CrossSiteRequest]> = [
    [
      'a cross-site POST from an untrusted origin',
      post({ secFetchSite: 'cross-site', origin: 'https://evil.example' }),
    ],
    [
      'a cross-site PUT',
      { method: 'PUT', ...api, secFetchSite: 'cross-site', origin: 'https://evil.example' },
    ],
    [
      'a cross-site PATCH',
      { method: 'PATCH', ...api, secFetchSite: 'cross-site', origin: 'https://evil.example' },
    ],
    [
      'a cross-site DELETE',
      { method: 'DELETE', ...api, secFetchSite: 'cross-site', origin: 'https://evil.example' },
    ],
    [
      'a cross-site lowercase post',
      { method: 'post', ...api, secFetchSite: 'cross-site', origin: 'https://e.example' },
    ],
    ['a cross-site POST without Origin', post({ secFetchSite: 'cross-site' })],
    ['a cross-site POST with Origin null', post({ secFetchSite: 'cross-site', origin: 'null' })],
    [
      'a same-site POST from another port',
      post({ secFetchSite: 'same-site', origin: 'http://localhost:9001' }),
    ],
    [
      'a same-site POST from a sibling subdomain',
      {
        method: 'POST',
        host: 'api.example.com',
        protocolIsHttps: true,
        secFetchSite: 'same-site',
        origin: 'https://evil.example.com',
      },
    ],
    ['a same-site POST without Origin', post({ secFetchSite: 'same-site' })],
    [
      'an unknown Sec-Fetch-Site value',
      post({ secFetchSite: 'same-origin-ish', origin: 'http://localhost:8000' }),
    ],
    [
      'a Sec-Fetch-Site value in another case',
      post({ secFetchSite: 'Same-Origin', origin: 'http://localhost:8000' }),
    ],
    ['two joined Sec-Fetch-Site values', post({ secFetchSite: 'same-origin, cross-site' })],
    ['an empty Sec-Fetch-Site', post({ secFetchSite: '' })],
    ['Origin null without Sec-Fetch-Site', post({ origin: 'null' })],
    ['an untrusted Origin without Sec-Fetch-Site', post({ origin: 'https://evil.example' })],
    ['our host on another port', post({ origin: 'http://localhost:8001' })],
    ['our host over another scheme', post({ origin: 'https://localhost:8000' })],
    [
      'our host over http when we serve https',
      { method: 'POST', host: 'api.example.com', protocolIsHttps: true, origin: 'http://api.example.com' },
    ],
    ['a look-alike that extends the trusted origin', post({ origin: 'http://localhost:9000.evil.example' })],
    ['a look-alike that prefixes the trusted host', post({ origin: 'http://evil-localhost:9000' })],
    ['the trusted origin with a path', post({ origin: 'http://localhost:9000/app' })],
    ['an Origin that is not an origin', post({ origin: 'not an origin' })],
    ['an empty Origin', post({ origin: '' })],
    [
      'an untrusted Origin when the Host header is missing',
      { method: 'POST', origin: 'http://localhost:8000' },
    ],
    [
      'an Origin matching userinfo smuggled into the Host header',
      { method: 'POST', host: 'evil.example@localhost:8000', origin: 'http://evil.example' },
    ],
  ]
  for (const [label, request] of refused) {
    test(`refuses ${label}`, () => {
      assert.equal(isRefused(request), true)
    })
  }

  test('trusted origins are normalised once at creation', () => {
    const check = createCrossSiteCheck({ trustedOrigins: ['HTTPS://Front.Example:443'] })
    assert.equal(
      check({ method: 'POST', secFetchSite: 'cross-site', origin: 'https://front.example' }),
      false,
    )
  })

  test('with no trusted origins, cross-site and same-site writes are all refused', () => {
    const check = createCrossSiteCheck({ trustedOrigins: [] })
    assert.equal(check(post({ secFetchSite: 'same-site', origin: 'http://localhost:9000' })), true)
    assert.equal(check(post({ origin: 'http://localhost:9000' })), true)
    assert.equal(check(post({ origin: 'http://localhost:8000' })), false)
  })

  test('an invalid trusted origin fails at creation with its value in the message', () => {
    const invalid = [
      '*',
      'null',
      '',
      'localhost:9000',
      'http://localhost:9000/',
      'http://localhost:9000/app',
      'http://*.example.com',
      'http://user@localhost:9000',
      'ftp://files.example',
    ]
    for (const origin of invalid) {
      assert.throws(
        () => createCrossSiteCheck({ trustedOrigins: [origin] }),
        (error: Error) =>
          error.message.includes(JSON.stringify(origin)) && error.message.includes('trustedOrigins[0]'),
        origin,
      )
    }
  })

  test('trustedOrigins must be an array', () => {
    assert.throws(
      () => createCrossSiteCheck({ trustedOrigins: 'http://localhost:9000' as unknown as string[] }),
      { name: 'TypeError', message: /trustedOrigins/ },
    )
  })
})
