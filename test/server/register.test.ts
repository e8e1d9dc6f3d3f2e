import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { dialects } from '../helpers/databases.ts'
import { login, register, requestToken, startTestApp, type TestApp } from '../helpers/test-app.ts'

const PUBLIC_FIELDS = ['created_at', 'email', 'id', 'is_active', 'is_superuser', 'is_verified']

async function userCount(t: TestApp, email: string): Promise<number> {
  const rows = await t.store.db
    .selectFrom('users')
    .select('id')
    .where('email_normalized', '=', email.toLowerCase())
    .execute()
  return rows.length
}

for (const { dialect, skip, create } of dialects()) {
  describe(`POST /register (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create })
    })
    after(() => t?.close())

    it('creates an account and answers 201 with the public user only', async () => {
      const startedAt = Date.now()
      const response = await register(t.app, 'Alice@Example.com', 'correct horse battery')
      assert.equal(response.statusCode, 201)
      assert.match(String(response.headers['content-type']), /^application\/json/)
      const body = response.json()
      assert.deepEqual(Object.keys(body).sort(), PUBLIC_FIELDS)
      assert.equal(typeof body.id, 'number')
      assert.equal(body.email, 'Alice@Example.com', 'the email is shown as typed')
      assert.equal(body.is_active, true)
      assert.equal(body.is_superuser, false)
      assert.equal(body.is_verified, false)
      assert.match(body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.ok(Date.parse(body.created_at) >= startedAt - 1000)
      assert.ok(Date.parse(body.created_at) <= Date.now() + 1000)
    })

    it('never returns the password or its hash', async () => {
      const password = 'never-echo-this-password'
      const response = await register(t.app, 'bob@example.com', password)
      assert.equal(response.statusCode, 201)
      assert.ok(!response.body.includes(password), 'password echoed')
      assert.ok(!response.body.includes('$argon2'), 'hash echoed')
      assert.doesNotMatch(response.body, /password|hash/i)
    })

    it('refuses an email that already exists with 400 EMAIL_EXISTS', async () => {
      assert.equal((await register(t.app, 'carol@example.com', 'password-one')).statusCode, 201)
      const response = await register(t.app, 'carol@example.com', 'password-two')
      assert.equal(response.statusCode, 400)
      assert.deepEqual(response.json(), { detail: 'Email already exists', code: 'EMAIL_EXISTS' })
      assert.equal(await userCount(t, 'carol@example.com'), 1)
    })

    it('treats emails differing only in case as the same account', async () => {
      assert.equal((await register(t.app, 'Dave@Example.com', 'password-one')).statusCode, 201)
      for (const variant of ['dave@example.com', 'DAVE@EXAMPLE.COM', 'dAVE@eXAMPLE.cOM']) {
        const response = await register(t.app, variant, 'password-two')
        assert.equal(response.statusCode, 400, variant)
        assert.deepEqual(response.json(), { detail: 'Email already exists', code: 'EMAIL_EXISTS' })
      }
      assert.equal(await userCount(t, 'dave@example.com'), 1)
      // The first password is still the one that works.
      await login(t.app, 'dave@example.com', 'password-one')
      assert.equal((await requestToken(t.app, 'dave@example.com', 'password-two')).statusCode, 401)
    })

    it('answers 422 listing every bad field as {loc, msg, type}', async () => {
      const response = await register(t.app, 'not-an-email', 'short')
      assert.equal(response.statusCode, 422)
      const body = response.json()
      assert.equal(body.code, 'VALIDATION_FAILED')
      assert.ok(Array.isArray(body.detail))
      const locs = body.detail.map((issue: { loc: string[] }) => issue.loc)
      assert.deepEqual(locs.sort(), [
        ['body', 'email'],
        ['body', 'password'],
      ])
      for (const issue of body.detail) {
        assert.deepEqual(Object.keys(issue).sort(), ['loc', 'msg', 'type'])
        assert.equal(typeof issue.msg, 'string')
        assert.ok(issue.msg.length > 0)
        assert.equal(typeof issue.type, 'string')
      }
    })

    it('answers 422 naming both fields when both are missing', async () => {
      const response = await t.app.inject({ method: 'POST', url: '/register', payload: {} })
      assert.equal(response.statusCode, 422)
      const locs = response.json().detail.map((issue: { loc: string[] }) => issue.loc.join('.'))
      assert.deepEqual(locs.sort(), ['body.email', 'body.password'])
    })

    it('refuses a 7-character password with 422 and creates no account', async () => {
      const response = await register(t.app, 'seven@example.com', '1234567')
      assert.equal(response.statusCode, 422)
      const body = response.json()
      assert.equal(body.detail.length, 1)
      assert.deepEqual(body.detail[0].loc, ['body', 'password'])
      assert.equal(await userCount(t, 'seven@example.com'), 0)
    })

    it('accepts an 8-character password', async () => {
      assert.equal((await register(t.app, 'eight@example.com', 'k7#Qp2!x')).statusCode, 201)
      await login(t.app, 'eight@example.com', 'k7#Qp2!x')
    })

    it('refuses a 1025-character password with 422 before hashing and creates no account', async () => {
      for (const [email, password] of [
        ['long1025@example.com', 'x'.repeat(1025)],
        ['emoji1025@example.com', '🔐'.repeat(1025)],
        ['huge@example.com', 'x'.repeat(60_000)],
      ] as const) {
        const response = await register(t.app, email, password)
        assert.equal(response.statusCode, 422, email)
        assert.deepEqual(response.json().detail[0].loc, ['body', 'password'])
        assert.equal(await userCount(t, email), 0)
      }
    })

    it('accepts a 1024-character password, usable for login', async () => {
      const password = `${'p'.repeat(1023)}!`
      assert.equal((await register(t.app, 'long1024@example.com', password)).statusCode, 201)
      await login(t.app, 'long1024@example.com', password)
      const wrong = await requestToken(t.app, 'long1024@example.com', `${'p'.repeat(1023)}?`)
      assert.equal(wrong.statusCode, 401, 'the last character counts')
    })

    it('counts an emoji as one character: 1024 emoji are accepted and log in', async () => {
      const password = '😀'.repeat(1024)
      assert.equal((await register(t.app, 'emoji1024@example.com', password)).statusCode, 201)
      await login(t.app, 'emoji1024@example.com', password)
      const wrong = await requestToken(t.app, 'emoji1024@example.com', '😀'.repeat(1023))
      assert.equal(wrong.statusCode, 401)
    })

    it('accepts unicode passwords and logs in with exactly that password', async () => {
      const password = 'пароль-密码-🔐-ñandú'
      assert.equal((await register(t.app, 'unicode@example.com', password)).statusCode, 201)
      await login(t.app, 'unicode@example.com', password)
      assert.equal((await requestToken(t.app, 'unicode@example.com', 'пароль-密码-🔓-ñandú')).statusCode, 401)
    })

    it('logs in with the same accented password typed composed or decomposed (NFKC)', async () => {
      const composed = 'caf\u00e9-cr\u00e8me-br\u00fbl\u00e9e'
      const decomposed = composed.normalize('NFD')
      assert.notEqual(composed, decomposed)
      assert.equal((await register(t.app, 'nfkc@example.com', composed)).statusCode, 201)
      await login(t.app, 'nfkc@example.com', decomposed)
    })
  })
}

const MASS_ASSIGNMENT_FIELDS = [
  'is_superuser',
  'isSuperuser',
  'IsSuperuser',
  'IS_SUPERUSER',
  'is_active',
  'isActive',
  'is_verified',
  'isVerified',
  'id',
  'created_at',
  'updated_at',
  'hashed_password',
]

for (const { dialect, skip, create } of dialects()) {
  describe(`POST /register takes exactly email and password (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create })
    })
    after(() => t?.close())

    for (const field of MASS_ASSIGNMENT_FIELDS) {
      it(`refuses "${field}" in JSON with a 422 naming it, and creates nothing`, async () => {
        const email = `json-${field.toLowerCase()}@example.com`
        const response = await t.app.inject({
          method: 'POST',
          url: '/register',
          payload: { email, password: 'plain passphrase 123', [field]: field === 'id' ? 1 : true },
        })
        assert.equal(response.statusCode, 422)
        assert.equal(response.json().code, 'VALIDATION_FAILED')
        assert.deepEqual(
          response.json().detail.map((issue: { loc: unknown[] }) => issue.loc),
          [['body', field]],
        )
        assert.equal(await userCount(t, email), 0)
      })
    }

    it('refuses isSuperuser=1 as a form field too', async () => {
      const email = 'form-superuser@example.com'
      const response = await t.app.inject({
        method: 'POST',
        url: '/register',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `email=${encodeURIComponent(email)}&password=password123&isSuperuser=1&is_superuser=true`,
      })
      assert.equal(response.statusCode, 422)
      assert.deepEqual(
        response
          .json()
          .detail.map((issue: { loc: unknown[] }) => issue.loc)
          .sort(),
        [
          ['body', 'isSuperuser'],
          ['body', 'is_superuser'],
        ],
      )
      assert.equal(await userCount(t, email), 0)
    })

    it('a registered account is never a superuser, verified or inactive', async () => {
      const response = await register(t.app, 'plain-user@example.com', 'plain passphrase 123')
      assert.equal(response.statusCode, 201)
      const row = await t.store.db
        .selectFrom('users')
        .select(['is_superuser', 'is_verified', 'is_active'])
        .where('email_normalized', '=', 'plain-user@example.com')
        .executeTakeFirstOrThrow()
      assert.deepEqual(row, { is_superuser: 0, is_verified: 0, is_active: 1 })
    })

    it('refuses a password with a lone surrogate (422), so its U+FFFD twin cannot log in', async () => {
      const email = 'surrogate@example.com'
      const refused = await register(t.app, email, 'pass\ud800word123')
      assert.equal(refused.statusCode, 422)
      assert.equal(refused.json().code, 'PASSWORD_POLICY')
      assert.equal(await userCount(t, email), 0)
      // A password that really contains U+FFFD is a password like any other.
      assert.equal((await register(t.app, email, 'pass\ufffdword123')).statusCode, 201)
      assert.equal((await requestToken(t.app, email, 'pass\ufffdword123')).statusCode, 200)
      // Only JSON can carry a lone surrogate (`\ud800`); a form's UTF-8 cannot encode one.
      for (const lone of ['pass\ud800word123', 'pass\udfffword123']) {
        const session = await t.app.inject({
          method: 'POST',
          url: '/login',
          payload: { email, password: lone },
        })
        assert.equal(session.statusCode, 401)
        assert.equal(session.json().code, 'BAD_CREDENTIALS')
      }
    })
  })

  describe(`POST /register is rate-limited per client IP (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({
        create,
        env: { REGISTER_MAX_PER_IP: '3', TRUST_PROXY: '127.0.0.1' },
      })
    })
    after(() => t?.close())

    const from = (ip: string, email: string) =>
      t.app.inject({
        method: 'POST',
        url: '/register',
        remoteAddress: '127.0.0.1',
        headers: { 'x-forwarded-for': ip },
        payload: { email, password: 'plain passphrase 123' },
      })

    it('answers 429 with Retry-After past the limit, other clients unaffected', async () => {
      assert.equal((await from('203.0.113.7', 'r1@example.com')).statusCode, 201)
      // Refused by the schema before the domain: no hashing, so not counted.
      assert.equal((await from('203.0.113.7', 'not-an-email')).statusCode, 422)
      assert.equal((await from('203.0.113.7', 'r1@example.com')).statusCode, 400)
      assert.equal((await from('203.0.113.7', 'r1b@example.com')).statusCode, 201)
      const refused = await from('203.0.113.7', 'r2@example.com')
      assert.equal(refused.statusCode, 429)
      assert.equal(refused.json().code, 'RATE_LIMITED')
      const retryAfter = Number(refused.headers['retry-after'])
      assert.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After ${retryAfter}`)
      assert.equal(await userCount(t, 'r2@example.com'), 0)
      assert.equal((await from('198.51.100.9', 'r3@example.com')).statusCode, 201)
    })

    it('email changes share the budget: a taken address answers 400, so they probe like registrations', async () => {
      const ip = '192.0.2.50'
      assert.equal((await from(ip, 'prober@example.com')).statusCode, 201)
      const token = (await requestToken(t.app, 'prober@example.com', 'plain passphrase 123')).json()
        .access_token
      const change = (email: string) =>
        t.app.inject({
          method: 'PATCH',
          url: '/me',
          remoteAddress: '127.0.0.1',
          headers: { 'x-forwarded-for': ip, authorization: `Bearer ${token}` },
          payload: { email, current_password: 'plain passphrase 123' },
        })
      assert.equal((await change('r1@example.com')).statusCode, 400, 'taken: the oracle')
      assert.equal((await change('free@example.com')).statusCode, 200)
      const refused = await change('r3@example.com')
      assert.equal(refused.statusCode, 429)
      assert.ok(Number(refused.headers['retry-after']) > 0)
    })
  })
}
