import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  apiKeyCookie,
  apiKeyHeader,
  apiKeyQuery,
  httpBasic,
  httpBearer,
  isSecurityDependency,
  oauth2PasswordBearer,
} from '../../../src/fastify/security/index.ts'

// Options are checked once, when the factory is called: a misconfigured app fails at boot.
const yes = () => true

/** Calls a factory with deliberately wrong options, as JavaScript callers could. */
function call(factory: (options: never) => unknown, options: unknown): () => unknown {
  return () => factory(options as never)
}

function throwsNaming(fn: () => unknown, option: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`)
    assert.match(error.message, new RegExp(`"${option.replace(/[.[\]]/g, '\\$&')}"`))
    return true
  })
}

describe('api key factory options', () => {
  for (const factory of [apiKeyHeader, apiKeyCookie, apiKeyQuery]) {
    describe(factory.name, () => {
      it('returns a security dependency for valid options', () => {
        assert.ok(isSecurityDependency(factory({ name: 'key', keys: ['k'] })))
      })

      it('refuses a missing or empty name', () => {
        throwsNaming(call(factory, { keys: ['k'] }), 'name')
        throwsNaming(call(factory, { name: '', keys: ['k'] }), 'name')
        throwsNaming(call(factory, { name: 42, keys: ['k'] }), 'name')
      })

      it('refuses neither verify nor keys, naming verify', () => {
        throwsNaming(call(factory, { name: 'key' }), 'verify')
      })

      it('refuses a verify that is not a function', () => {
        throwsNaming(call(factory, { name: 'key', verify: 'secret' }), 'verify')
      })

      it('refuses an empty keys list, a non-array, and empty or non-string keys', () => {
        throwsNaming(call(factory, { name: 'key', keys: [] }), 'keys')
        throwsNaming(call(factory, { name: 'key', keys: 'k' }), 'keys')
        throwsNaming(call(factory, { name: 'key', keys: ['k', ''] }), 'keys[1]')
        throwsNaming(call(factory, { name: 'key', keys: [42] }), 'keys[0]')
      })

      it('refuses verify and keys together (which one wins would be a guess)', () => {
        assert.throws(
          call(factory, { name: 'key', keys: ['k'], verify: yes }),
          /either option "verify" or option "keys"/,
        )
      })

      it('refuses an errorStatus other than 401 or 403', () => {
        throwsNaming(call(factory, { name: 'key', keys: ['k'], errorStatus: 400 }), 'errorStatus')
        throwsNaming(call(factory, { name: 'key', keys: ['k'], errorStatus: '403' }), 'errorStatus')
      })

      it('refuses a schemeName that is not a valid OpenAPI components key', () => {
        throwsNaming(call(factory, { name: 'key', keys: ['k'], schemeName: 'my scheme' }), 'schemeName')
        throwsNaming(call(factory, { name: 'key', keys: ['k'], schemeName: '' }), 'schemeName')
      })

      it('refuses a missing options object', () => {
        assert.throws(call(factory, undefined), TypeError)
      })
    })
  }

  it('refuses header and cookie names that are not HTTP tokens', () => {
    throwsNaming(() => apiKeyHeader({ name: 'X API Key', keys: ['k'] }), 'name')
    throwsNaming(() => apiKeyHeader({ name: 'X-Key\r\n', keys: ['k'] }), 'name')
    throwsNaming(() => apiKeyCookie({ name: 'api;key', keys: ['k'] }), 'name')
  })

  it('accepts any non-empty query parameter name', () => {
    assert.ok(isSecurityDependency(apiKeyQuery({ name: 'api key[]', keys: ['k'] })))
  })
})

describe('http factory options', () => {
  it('refuses httpBasic and httpBearer without a verify function', () => {
    throwsNaming(call(httpBasic, {}), 'verify')
    throwsNaming(call(httpBearer, { verify: 'x' }), 'verify')
  })

  it('refuses an empty realm or one with non-printable characters', () => {
    throwsNaming(() => httpBearer({ verify: yes, realm: '' }), 'realm')
    throwsNaming(() => httpBearer({ verify: yes, realm: 'a\nb' }), 'realm')
    throwsNaming(() => httpBasic({ verify: yes, realm: 'caf\u00e9' }), 'realm')
  })

  it('refuses an empty bearerFormat', () => {
    throwsNaming(() => httpBearer({ verify: yes, bearerFormat: '' }), 'bearerFormat')
  })
})

describe('oauth2PasswordBearer options', () => {
  it('accepts relative paths and http(s) URLs as tokenUrl', () => {
    for (const tokenUrl of [
      'token',
      '/auth/token',
      '../token',
      'https://id.example.com/token',
      'http://localhost:8000/token',
    ]) {
      assert.ok(isSecurityDependency(oauth2PasswordBearer({ tokenUrl, verify: yes })), tokenUrl)
    }
  })

  it('refuses a missing, empty or non-string tokenUrl', () => {
    throwsNaming(call(oauth2PasswordBearer, { verify: yes }), 'tokenUrl')
    throwsNaming(call(oauth2PasswordBearer, { tokenUrl: '', verify: yes }), 'tokenUrl')
    throwsNaming(call(oauth2PasswordBearer, { tokenUrl: 7, verify: yes }), 'tokenUrl')
  })

  it('refuses a tokenUrl with another scheme, spaces or control characters (the docs UI posts passwords there)', () => {
    for (const tokenUrl of [
      'javascript:alert(1)',
      'data:text/plain,x',
      'ftp://example.com/token',
      '/to ken',
      '/token\n',
    ]) {
      throwsNaming(() => oauth2PasswordBearer({ tokenUrl, verify: yes }), 'tokenUrl')
    }
  })

  it('refuses scopes that are not scope-tokens (RFC 6749 §3.3) or lack a string description', () => {
    throwsNaming(call(oauth2PasswordBearer, { tokenUrl: 'token', verify: yes, scopes: ['me'] }), 'scopes')
    throwsNaming(
      () => oauth2PasswordBearer({ tokenUrl: 'token', verify: yes, scopes: { 'a b': 'x' } }),
      'scopes',
    )
    throwsNaming(
      call(oauth2PasswordBearer, { tokenUrl: 'token', verify: yes, scopes: { me: 1 } }),
      'scopes.me',
    )
  })

  it('refuses a missing verify, naming it', () => {
    throwsNaming(call(oauth2PasswordBearer, { tokenUrl: 'token' }), 'verify')
  })
})
