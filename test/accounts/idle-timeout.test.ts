import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { issueAccessToken, touchIntervalFor, validateAccessToken } from '../../src/accounts/access-tokens.ts'
import { createTokenCache } from '../../src/accounts/token-cache.ts'
import { openGatehouse } from '../../src/open-gatehouse.ts'
import { loadConfig } from '../../src/server/config.ts'
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.ts'

const SECOND = 1000
const T = Date.UTC(2030, 0, 1)

describe('idle timeout', () => {
  let database: TestDatabase
  let gatehouse: Awaited<ReturnType<typeof openGatehouse>>
  let userId: number
  before(async () => {
    database = await createSqliteDatabase()
    gatehouse = await openGatehouse({ databaseUrl: database.url })
    userId = (
      await gatehouse.accounts.register({ email: 'idle@example.com', password: 'idle timeout passphrase' })
    ).id
  })
  after(async () => {
    await gatehouse?.close()
    await database?.drop()
  })

  const issue = () => issueAccessToken(gatehouse.store.db, userId, 'bearer', 86400, T)

  it('a cached token is refused once its idle deadline passes, though its cache entry is young', async () => {
    const cache = createTokenCache({ ttlSeconds: 300 })
    const options = { idleTimeoutSeconds: 10, touchIntervalSeconds: 5, cache }
    const { token } = await issue()
    assert.ok(await validateAccessToken(gatehouse.store.db, token, 'bearer', { ...options, now: T }))
    await delay(20) // the first-use write is not awaited by the validator
    assert.ok(
      await validateAccessToken(gatehouse.store.db, token, 'bearer', { ...options, now: T + 9 * SECOND }),
    )
    assert.equal(
      await validateAccessToken(gatehouse.store.db, token, 'bearer', { ...options, now: T + 20 * SECOND }),
      null,
    )
  })

  it('a token in steady use, served from the cache, is never refused as idle', async () => {
    const cache = createTokenCache({ ttlSeconds: 300 })
    const idleTimeoutSeconds = 10
    const options = { idleTimeoutSeconds, touchIntervalSeconds: touchIntervalFor(idleTimeoutSeconds), cache }
    const { token } = await issue()
    for (let now = T; now <= T + 60 * SECOND; now += 2 * SECOND) {
      const context = await validateAccessToken(gatehouse.store.db, token, 'bearer', { ...options, now })
      assert.ok(context, `refused at +${(now - T) / SECOND} s although used every 2 s`)
      await delay(5) // lets the background last_used_at write land
    }
    // And after real idleness it ends, within one write interval of the last use.
    const lastUse = T + 60 * SECOND
    assert.equal(
      await validateAccessToken(gatehouse.store.db, token, 'bearer', {
        ...options,
        now: lastUse + (idleTimeoutSeconds + 1) * SECOND,
      }),
      null,
    )
  })

  it('is one hour by default, with last_used_at written every minute', () => {
    const config = loadConfig({})
    assert.equal(config.idleTimeoutSeconds, 3600)
    assert.equal(config.touchIntervalSeconds, 60)
    assert.equal(config.accessTokenTtlSeconds, 86400)
  })

  it('derives a write interval of half a short idle timeout', () => {
    assert.equal(loadConfig({ ACCESS_TOKEN_IDLE_SECONDS: '30' }).touchIntervalSeconds, 15)
    assert.equal(touchIntervalFor(0), 60)
    assert.equal(touchIntervalFor(2), 1)
  })

  it('refuses a write interval that cannot keep the idle timeout', () => {
    assert.throws(
      () => loadConfig({ ACCESS_TOKEN_IDLE_SECONDS: '30', TOKEN_TOUCH_INTERVAL_SECONDS: '60' }),
      /TOKEN_TOUCH_INTERVAL_SECONDS \(60\) must be at most half of ACCESS_TOKEN_IDLE_SECONDS \(30\)/,
    )
    assert.throws(() => loadConfig({ ACCESS_TOKEN_IDLE_SECONDS: '1' }), /at least 2/)
    assert.equal(
      loadConfig({ ACCESS_TOKEN_IDLE_SECONDS: '0', TOKEN_TOUCH_INTERVAL_SECONDS: '600' })
        .touchIntervalSeconds,
      600,
    )
  })
})
