import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import {
  type BasicCredentials,
  httpBasic,
  parseBasicAuthorization,
} from '../../../src/fastify/security/index.ts'
import { appWith, base64 } from './helpers.ts'

// RFC 7617 (The 'Basic' HTTP Authentication Scheme) as implemented by httpBasic.
const CHALLENGE = 'Basic realm="api", charset="UTF-8"'

describe('RFC 7617 with httpBasic', () => {
  let app: FastifyInstance
  const seen: BasicCredentials[] = []
  before(async () => {
    app = await appWith(
      httpBasic({
        verify: (credentials) => {
          seen.push(credentials)
          return credentials.username === 'Aladdin' && credentials.password === 'open:sesame'
        },
      }),
    )
  })
  after(() => app.close())

  const get = (authorization?: string) =>
    app.inject({ url: '/protected', headers: authorization === undefined ? {} : { authorization } })

  it('accepts base64(user-id ":" password) and splits at the first colon (§2)', async () => {
    seen.length = 0
    const response = await get(`Basic ${base64('Aladdin:open:sesame')}`)
    assert.equal(response.statusCode, 200)
    assert.deepEqual(seen, [{ username: 'Aladdin', password: 'open:sesame' }])
  })

  it('treats the scheme name case-insensitively (RFC 9110 §11.1)', async () => {
    for (const scheme of ['basic', 'BASIC', 'bAsIc']) {
      assert.equal((await get(`${scheme} ${base64('Aladdin:open:sesame')}`)).statusCode, 200, scheme)
    }
  })

  it('answers a missing header 401 with the realm and charset="UTF-8" challenge (§2, §2.1)', async () => {
    const response = await get()
    assert.equal(response.statusCode, 401)
    assert.equal(response.headers['www-authenticate'], CHALLENGE)
    assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'NOT_AUTHENTICATED' })
  })

  it('answers wrong credentials 401 with the same challenge and a generic message', async () => {
    const response = await get(`Basic ${base64('Aladdin:wrong')}`)
    assert.equal(response.statusCode, 401)
    assert.equal(response.headers['www-authenticate'], CHALLENGE)
    assert.deepEqual(response.json(), { detail: 'Incorrect username or password', code: 'BAD_CREDENTIALS' })
  })

  it('answers malformed credentials 401 with a challenge and never calls the verifier', async () => {
    seen.length = 0
    const malformed = {
      'no credentials': 'Basic',
      'no colon': `Basic ${base64('Aladdin')}`,
      'invalid base64 characters': 'Basic QWxh*GRpbjpvcGVu',
      'base64 without padding': 'Basic QWxhZGRpbjpvcGVuOnNlc2FtZQ',
      'base64url alphabet': `Basic ${base64('a:>>>?').replace(/\+/g, '-').replace(/\//g, '_')}`,
      'two tokens': `Basic ${base64('Aladdin:open:sesame')} extra`,
      'tab separator': `Basic\t${base64('Aladdin:open:sesame')}`,
      'invalid UTF-8': `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`,
      'control character in password (§2 MUST NOT)': `Basic ${base64('Aladdin:open\nsesame')}`,
      'control character in user-id': `Basic ${base64('Ala\u0000ddin:open:sesame')}`,
      'DEL character': `Basic ${base64('Aladdin:open\u007fsesame')}`,
      'another scheme': `Bearer ${base64('Aladdin:open:sesame')}`,
    }
    for (const [label, authorization] of Object.entries(malformed)) {
      const response = await get(authorization)
      assert.equal(response.statusCode, 401, label)
      assert.equal(response.headers['www-authenticate'], CHALLENGE, label)
      assert.equal(response.json().code, 'NOT_AUTHENTICATED', label)
    }
    assert.deepEqual(seen, [])
  })
})

describe('RFC 7617 parsing', () => {
  it('decodes UTF-8 user-ids and passwords (§2.1 charset="UTF-8")', () => {
    assert.deepEqual(parseBasicAuthorization(`Basic ${base64('Zoë:pässwörd✓')}`), {
      username: 'Zoë',
      password: 'pässwörd✓',
    })
  })

  it('keeps an empty user-id or password for the verifier to judge', () => {
    assert.deepEqual(parseBasicAuthorization(`Basic ${base64(':')}`), { username: '', password: '' })
  })

  it('does not normalise Unicode (the password module owns normalisation)', () => {
    const decomposed = 'e\u0301'
    assert.equal(parseBasicAuthorization(`Basic ${base64(`${decomposed}:x`)}`)?.username, decomposed)
  })

  it('returns null for a missing header', () => {
    assert.equal(parseBasicAuthorization(undefined), null)
  })
})

describe('RFC 7617 realm option', () => {
  it('quotes a configured realm in the challenge (RFC 9110 §5.6.4)', async () => {
    const app = await appWith(httpBasic({ realm: 'Staff "only"', verify: () => false }))
    const response = await app.inject({ url: '/protected' })
    assert.equal(response.headers['www-authenticate'], 'Basic realm="Staff \\"only\\"", charset="UTF-8"')
    await app.close()
  })

  it('refuses a realm with control characters at factory time (header injection)', () => {
    assert.throws(() => httpBasic({ realm: 'a\r\nSet-Cookie: x=y', verify: () => true }), {
      name: 'TypeError',
      message: /realm/,
    })
  })
})
