import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { GatehouseError } from '../../../src/core/errors.ts'
import { httpBearer, oauth2PasswordBearer } from '../../../src/fastify/security/index.ts'
import { appWith } from './helpers.ts'

// RFC 6750 (Bearer Token Usage) as implemented by httpBearer and oauth2PasswordBearer.
const GOOD = 'gth_abc-DEF.123_~+/=='
const seen: string[] = []
const verify = (token: string) => {
  seen.push(token)
  return token === GOOD
}

const factories = {
  httpBearer: () => httpBearer({ verify }),
  oauth2PasswordBearer: () => oauth2PasswordBearer({ tokenUrl: 'token', verify }),
}

for (const [label, factory] of Object.entries(factories)) {
  describe(`RFC 6750 with ${label}`, () => {
    let app: FastifyInstance
    before(async () => {
      app = await appWith(factory())
    })
    after(() => app.close())

    const get = (authorization?: string, url = '/protected') =>
      app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } })

    it('accepts "Bearer" followed by a valid b64token (§2.1)', async () => {
      const response = await get(`Bearer ${GOOD}`)
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json(), { ok: true })
    })

    it('treats the scheme name case-insensitively (RFC 9110 §11.1)', async () => {
      for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
        assert.equal((await get(`${scheme} ${GOOD}`)).statusCode, 200, scheme)
      }
    })

    it('accepts several spaces between scheme and token (1*SP)', async () => {
      assert.equal((await get(`Bearer   ${GOOD}`)).statusCode, 200)
    })

    it('answers a request without credentials 401 with a bare Bearer challenge and no error code (§3.1)', async () => {
      const response = await get()
      assert.equal(response.statusCode, 401)
      assert.equal(response.headers['www-authenticate'], 'Bearer')
      assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'NOT_AUTHENTICATED' })
    })

    it('answers an empty Authorization header like a missing one', async () => {
      const response = await get('')
      assert.equal(response.statusCode, 401)
      assert.equal(response.headers['www-authenticate'], 'Bearer')
    })

    it('answers another authentication scheme 401 without error information (§3.1 "unsupported method")', async () => {
      for (const authorization of ['Basic dXNlcjpwYXNz', 'Token abc', 'Bearerx abc']) {
        const response = await get(authorization)
        assert.equal(response.statusCode, 401, authorization)
        assert.equal(response.headers['www-authenticate'], 'Bearer', authorization)
      }
    })

    it('answers a malformed Bearer credential 400 invalid_request (§3.1)', async () => {
      const malformed = [
        'Bearer',
        'Bearer ',
        'Bearer a b',
        `Bearer\t${GOOD}`,
        'Bearer tok"en',
        'Bearer tok,en',
        'Bearer =abc',
        'Bearer abc=d',
        'Bearer ключ',
      ]
      for (const authorization of malformed) {
        const response = await get(authorization)
        assert.equal(response.statusCode, 400, authorization)
        assert.match(
          String(response.headers['www-authenticate']),
          /^Bearer error="invalid_request"/,
          authorization,
        )
        assert.equal(response.json().code, 'MALFORMED_AUTHORIZATION', authorization)
      }
    })

    it('answers a token the verifier refuses 401 invalid_token with a description (§3.1)', async () => {
      const response = await get('Bearer gth_unknown')
      assert.equal(response.statusCode, 401)
      assert.equal(
        response.headers['www-authenticate'],
        'Bearer error="invalid_token", error_description="The access token is invalid or expired"',
      )
      assert.deepEqual(response.json(), { detail: 'Invalid or expired token', code: 'INVALID_TOKEN' })
    })

    it('ignores a token in the query string (§2.3 SHOULD NOT; URLs leak into logs)', async () => {
      seen.length = 0
      const response = await get(undefined, `/protected?access_token=${encodeURIComponent(GOOD)}`)
      assert.equal(response.statusCode, 401)
      assert.equal(response.headers['www-authenticate'], 'Bearer')
      assert.deepEqual(seen, [], 'the query token never reaches the verifier')
    })

    it('ignores a token in a form body (§2.2 is not supported)', async () => {
      const response = await app.inject({
        method: 'GET',
        url: '/protected',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `access_token=${encodeURIComponent(GOOD)}`,
      })
      assert.equal(response.statusCode, 401)
    })

    it('passes the token to the verifier exactly as sent', async () => {
      seen.length = 0
      await get(`bearer ${GOOD}`)
      assert.deepEqual(seen, [GOOD])
    })
  })
}

describe('RFC 6750 challenges and verifier outcomes', () => {
  it('includes a realm in every challenge when one is configured (§3)', async () => {
    const app = await appWith(httpBearer({ realm: 'gate "house"', verify: () => false }))
    const missing = await app.inject({ url: '/protected' })
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="gate \\"house\\""')
    const invalid = await app.inject({ url: '/protected', headers: { authorization: 'Bearer x' } })
    assert.match(
      String(invalid.headers['www-authenticate']),
      /^Bearer realm="gate \\"house\\"", error="invalid_token"/,
    )
    const malformed = await app.inject({ url: '/protected', headers: { authorization: 'Bearer' } })
    assert.match(
      String(malformed.headers['www-authenticate']),
      /^Bearer realm="gate \\"house\\"", error="invalid_request"/,
    )
    await app.close()
  })

  it('grants access only when the verifier returns exactly true (fail closed)', async () => {
    const answers: unknown[] = [1, 'yes', {}, undefined, null]
    for (const answer of answers) {
      const app = await appWith(httpBearer({ verify: (() => answer) as () => boolean }))
      const response = await app.inject({ url: '/protected', headers: { authorization: 'Bearer t' } })
      assert.equal(response.statusCode, 401, String(answer))
      await app.close()
    }
  })

  it('awaits an async verifier', async () => {
    const app = await appWith(httpBearer({ verify: async (token) => token === 'async-ok' }))
    const ok = await app.inject({ url: '/protected', headers: { authorization: 'Bearer async-ok' } })
    const no = await app.inject({ url: '/protected', headers: { authorization: 'Bearer async-no' } })
    assert.deepEqual([ok.statusCode, no.statusCode], [200, 401])
    await app.close()
  })

  it('lets a GatehouseError thrown by the verifier through unchanged', async () => {
    const app = await appWith(
      httpBearer({
        verify: () => {
          throw new GatehouseError('INACTIVE_USER')
        },
      }),
    )
    const response = await app.inject({ url: '/protected', headers: { authorization: 'Bearer t' } })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json(), { detail: 'Inactive user', code: 'INACTIVE_USER' })
    await app.close()
  })

  it('turns any other verifier error into a generic 500 without its message or status', async () => {
    const failure = Object.assign(new Error('db password is hunter2'), { statusCode: 401 })
    const app = await appWith(
      httpBearer({
        verify: async () => {
          throw failure
        },
      }),
    )
    const response = await app.inject({ url: '/protected', headers: { authorization: 'Bearer t' } })
    assert.equal(response.statusCode, 500)
    assert.deepEqual(response.json(), { detail: 'Internal Server Error', code: 'INTERNAL' })
    assert.doesNotMatch(response.body, /hunter2/)
    await app.close()
  })
})
