import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Accounts, type AccountsOptions, createAccounts } from '../../src/accounts/accounts.ts'
import type { SecurityEvent, SecurityEventType } from '../../src/accounts/events.ts'
import { GatehouseError } from '../../src/core/errors.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, openTestStore } from '../helpers/databases.ts'

const PASSWORD = 'correct horse battery staple'
const WRONG_PASSWORD = 'correct horse battery stapler'
const NEW_PASSWORD = 'a brand new passphrase'
const SAFARI =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'
const CLIENT = { ip: '203.0.113.50', userAgent: SAFARI }
const EVENT_KEYS = ['actorId', 'at', 'ip', 'reason', 'sessionId', 'type', 'userAgent', 'userId']

let emailCounter = 0
const uniqueEmail = (label: string) => `${label}-${++emailCounter}@example.com`

const isCode = (code: string) => (error: unknown) => error instanceof GatehouseError && error.code === code

describe('security events', () => {
  let store: Store | undefined
  let baseOptions: AccountsOptions
  let accounts: Accounts
  let events: SecurityEvent[] = []

  before(async () => {
    store = await openTestStore(createSqliteDatabase)
    baseOptions = {
      db: store.db,
      hasher: createPasswordHasher(),
      accessTokenTtlSeconds: 3600,
      idleTimeoutSeconds: 0,
      onEvent: (event) => events.push(event),
    }
    accounts = createAccounts(baseOptions)
  })
  after(async () => {
    await store?.close()
  })

  const accountsWith = (overrides: Partial<AccountsOptions>) =>
    createAccounts({ ...baseOptions, ...overrides })
  const login = (email: string, password: string, on: Accounts = accounts) =>
    on.login({ email, password, kind: 'session', client: CLIENT })
  /** The events of one action, and only those. */
  async function eventsOf(action: () => Promise<unknown>): Promise<SecurityEvent[]> {
    events = []
    await action().catch(() => {})
    return events
  }
  const ofType = (list: SecurityEvent[], type: SecurityEventType) =>
    list.filter((event) => event.type === type)

  it('a login reports login.succeeded with the user, the session id, the ip and the user agent summary', async () => {
    const email = uniqueEmail('succeeded')
    const user = await accounts.register({ email, password: PASSWORD })
    let issued: { sessionId: string } | undefined
    const before = Date.now()
    const reported = await eventsOf(async () => {
      issued = (await login(email, PASSWORD)).issued
    })
    assert.equal(reported.length, 1)
    const [event] = reported
    assert.deepEqual(Object.keys(event!).sort(), EVENT_KEYS)
    assert.equal(event?.type, 'login.succeeded')
    assert.equal(event?.userId, user.id)
    assert.equal(event?.sessionId, issued?.sessionId)
    assert.equal(event?.ip, CLIENT.ip)
    assert.equal(event?.userAgent, 'Safari 17 on macOS')
    assert.equal(event?.reason, null)
    assert.ok(event!.at >= before && event!.at <= Date.now())
  })

  it('a wrong password reports login.failed with the account it names; an unknown email with none', async () => {
    const email = uniqueEmail('failed')
    const user = await accounts.register({ email, password: PASSWORD })

    const wrong = await eventsOf(() => login(email, WRONG_PASSWORD))
    assert.deepEqual(
      wrong.map(({ type, userId, reason, sessionId }) => ({ type, userId, reason, sessionId })),
      [{ type: 'login.failed', userId: user.id, reason: 'bad_credentials', sessionId: null }],
    )

    const unknown = await eventsOf(() => login(uniqueEmail('nobody'), PASSWORD))
    assert.deepEqual(
      unknown.map(({ type, userId, reason }) => ({ type, userId, reason })),
      [{ type: 'login.failed', userId: null, reason: 'bad_credentials' }],
    )
  })

  it('an unverified account refused at login reports reason "unverified"', async () => {
    const strict = accountsWith({ requireVerifiedEmail: true })
    const email = uniqueEmail('unverified')
    const user = await strict.register({ email, password: PASSWORD })
    const reported = await eventsOf(() => login(email, PASSWORD, strict))
    assert.deepEqual(
      reported.map(({ type, userId, reason }) => ({ type, userId, reason })),
      [{ type: 'login.failed', userId: user.id, reason: 'unverified' }],
    )
  })

  it('a blocked attempt reports login.throttled, and no login.failed', async () => {
    const throttled = accountsWith({ limiters: { login: { maxFailuresPerAccount: 3 } } })
    const email = uniqueEmail('throttled')
    await throttled.register({ email, password: PASSWORD })
    for (let i = 0; i < 3; i++)
      await assert.rejects(login(email, WRONG_PASSWORD, throttled), isCode('BAD_CREDENTIALS'))
    let refusal: unknown
    const reported = await eventsOf(() =>
      login(email, PASSWORD, throttled).catch((error: unknown) => {
        refusal = error
      }),
    )
    assert.ok(isCode('RATE_LIMITED')(refusal))
    assert.deepEqual(
      reported.map(({ type, ip }) => ({ type, ip })),
      [{ type: 'login.throttled', ip: CLIENT.ip }],
    )
  })

  it('a wrong current password at a password change reports login.failed', async () => {
    const email = uniqueEmail('change-wrong')
    const user = await accounts.register({ email, password: PASSWORD })
    const { issued } = await login(email, PASSWORD)
    const session = await accounts.validateToken(issued.token, 'session')
    assert.ok(session)
    const reported = await eventsOf(() =>
      accounts.changePassword({
        session,
        currentPassword: WRONG_PASSWORD,
        newPassword: NEW_PASSWORD,
        client: CLIENT,
      }),
    )
    assert.ok(
      reported.some(
        (event) =>
          event.type === 'login.failed' &&
          event.userId === user.id &&
          event.reason === 'wrong_current_password',
      ),
      JSON.stringify(reported),
    )
    assert.equal(ofType(reported, 'password.changed').length, 0)
  })

  it('no event of a whole account lifecycle carries a password, a token, its hash or the raw user agent', async () => {
    const email = uniqueEmail('lifecycle')
    const newEmail = uniqueEmail('lifecycle-new')
    const secrets: string[] = [PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, SAFARI]
    const all: SecurityEvent[] = []
    // Every step must succeed (eventsOf would hide a failure): the events checked are the real ones.
    const record = async (action: () => Promise<unknown>) => {
      events = []
      await action().catch((error: unknown) => {
        if (!(error instanceof GatehouseError && error.code === 'BAD_CREDENTIALS')) throw error
      })
      all.push(...events)
    }

    const user = await accounts.register({ email, password: PASSWORD })
    await record(() => login(email, WRONG_PASSWORD))
    let first = await login(email, PASSWORD)
    let second = await login(email, PASSWORD)
    secrets.push(first.issued.token, first.issued.tokenHash, second.issued.token, second.issued.tokenHash)
    await record(async () => {
      first = await accounts.login({
        email,
        password: PASSWORD,
        kind: 'session',
        client: CLIENT,
        replacesToken: first.issued.token,
      })
    })
    secrets.push(first.issued.token, first.issued.tokenHash)
    const session = await accounts.validateToken(first.issued.token, 'session')
    assert.ok(session)
    await record(() => accounts.validateToken(first.issued.token, 'bearer')) // token.kind_mismatch
    await record(() => accounts.revokeSession(session, second.issued.sessionId, CLIENT))
    await record(() =>
      accounts.changePassword({
        session,
        currentPassword: PASSWORD,
        newPassword: NEW_PASSWORD,
        client: CLIENT,
      }),
    )
    await record(() => accounts.changeEmail({ session, email: newEmail, client: CLIENT }))
    await record(() => accounts.requestPasswordReset({ email: newEmail, client: CLIENT }))
    const resetToken = (
      await accounts.prepareMail({ purpose: 'password-reset', recipient: newEmail, user_id: null })
    )?.token
    assert.ok(resetToken)
    secrets.push(resetToken)
    await record(() => accounts.resetPassword({ token: resetToken, password: PASSWORD, client: CLIENT }))
    const verifyToken = (
      await accounts.prepareMail({ purpose: 'verify-email', recipient: newEmail, user_id: user.id })
    )?.token
    secrets.push(verifyToken ?? 'no-token')
    await record(() => accounts.requestVerification({ email: newEmail, client: CLIENT }))
    second = await login(newEmail, PASSWORD)
    secrets.push(second.issued.token, second.issued.tokenHash)
    const last = await accounts.validateToken(second.issued.token, 'session')
    assert.ok(last)
    await record(() => accounts.logout(last, CLIENT))
    await record(async () =>
      accounts.report('csrf.refused', { session: last, client: CLIENT, reason: 'bad_token' }),
    )

    // The lifecycle really produced the events whose content is checked below.
    const types = new Set(all.map((event) => event.type))
    for (const type of [
      'login.failed',
      'login.succeeded',
      'token.kind_mismatch',
      'session.revoked',
      'password.changed',
      'email.changed',
      'password.reset_requested',
      'password.reset',
      'email.verification_requested',
      'logout',
      'csrf.refused',
    ] as const) {
      assert.ok(types.has(type), `expected a ${type} event, got ${[...types].join(', ')}`)
    }
    const text = JSON.stringify(all)
    for (const secret of secrets)
      assert.ok(!text.includes(secret), `an event carries ${secret.slice(0, 12)}…`)
    for (const event of all) {
      assert.deepEqual(Object.keys(event).sort(), EVENT_KEYS)
      assert.ok(event.userAgent === null || event.userAgent === 'Safari 17 on macOS', String(event.userAgent))
    }
  })

  it('report() turns an adapter’s finding into an event of the session’s user', async () => {
    const email = uniqueEmail('report')
    const user = await accounts.register({ email, password: PASSWORD })
    const { issued } = await login(email, PASSWORD)
    const session = await accounts.validateToken(issued.token, 'session')
    const reported = await eventsOf(async () =>
      accounts.report('csrf.refused', { session, client: CLIENT, reason: 'missing_token' }),
    )
    assert.deepEqual(
      reported.map(({ type, userId, sessionId, reason }) => ({ type, userId, sessionId, reason })),
      [{ type: 'csrf.refused', userId: user.id, sessionId: issued.sessionId, reason: 'missing_token' }],
    )
    const anonymous = await eventsOf(async () =>
      accounts.report('csrf.refused', { session: null, client: CLIENT }),
    )
    assert.deepEqual(
      anonymous.map(({ userId, sessionId, reason }) => ({ userId, sessionId, reason })),
      [{ userId: null, sessionId: null, reason: null }],
    )
  })

  it('a hook that throws fails neither the login nor the other hooks; onBackgroundError gets the error', async () => {
    const boom = new Error('audit store down')
    const backgroundErrors: unknown[] = []
    const received: SecurityEventType[] = []
    const fragile = accountsWith({
      onEvent: [
        () => {
          throw boom
        },
        (event) => received.push(event.type),
      ],
      onBackgroundError: (error) => backgroundErrors.push(error),
    })
    const email = uniqueEmail('throwing-hook')
    const user = await fragile.register({ email, password: PASSWORD })
    const { user: signedIn, issued } = await login(email, PASSWORD, fragile)
    assert.equal(signedIn.id, user.id)
    assert.ok(await fragile.validateToken(issued.token, 'session'))
    await assert.rejects(login(email, WRONG_PASSWORD, fragile), isCode('BAD_CREDENTIALS'))
    assert.deepEqual(received, ['login.succeeded', 'login.failed'])
    assert.deepEqual(backgroundErrors, [boom, boom])
  })
})
