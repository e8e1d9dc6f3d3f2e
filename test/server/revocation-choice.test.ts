/**
 * Which channel an instance uses, seen from the servers themselves: a PostgreSQL store listens on
 * PostgreSQL even when REDIS_URL is set (no Redis subscriber at all); SQLite with REDIS_URL
 * subscribes on Redis; an instance without a token cache listens nowhere (it only publishes).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import pg from 'pg'
import { createPostgresDatabase, createSqliteDatabase } from '../helpers/databases.ts'
import { service } from '../helpers/services.ts'
import { startTestApp, type TestApp } from '../helpers/test-app.ts'

const postgres = service('postgres')
const redisService = service('redis')
const skip = postgres.skip || redisService.skip

async function listenersOn(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name like 'gatehouse-revocations-%'`,
    )
    return rows[0].n
  } finally {
    await client.end()
  }
}

describe('the revocation channel an instance chooses', { skip }, () => {
  let redis: Redis
  const apps: TestApp[] = []
  const prefix = () => `gatehouse-test-choice-${randomBytes(5).toString('hex')}`
  const subscribers = async (keyPrefix: string) =>
    ((await redis.client('LIST')) as string)
      .split('\n')
      .filter((line) => line.includes(` name=${keyPrefix}:revocations-subscriber `)).length
  before(async () => {
    redis = new Redis(redisService.value, { maxRetriesPerRequest: 1 })
  })
  after(async () => {
    for (const app of apps) await app.close()
    await redis?.quit()
  })

  it('PostgreSQL with REDIS_URL set: LISTEN on PostgreSQL, no Redis subscriber', async () => {
    const keyPrefix = prefix()
    const t = await startTestApp({
      create: () => createPostgresDatabase(postgres.value),
      env: { REDIS_URL: redisService.value, REDIS_KEY_PREFIX: keyPrefix },
    })
    apps.push(t)
    await sleep(300)
    assert.equal(await listenersOn(t.store.url), 1)
    assert.equal(await subscribers(keyPrefix), 0)
  })

  it('SQLite with REDIS_URL: one Redis subscriber', async () => {
    const keyPrefix = prefix()
    const t = await startTestApp({
      create: createSqliteDatabase,
      env: { REDIS_URL: redisService.value, REDIS_KEY_PREFIX: keyPrefix },
    })
    apps.push(t)
    await sleep(300)
    assert.equal(await subscribers(keyPrefix), 1)
    await t.close()
    for (let i = 0; i < 20 && (await subscribers(keyPrefix)) > 0; i++) await sleep(50)
    assert.equal(await subscribers(keyPrefix), 0, 'closed with the app')
  })

  it('TOKEN_CACHE_SECONDS=0: nothing to drop, so no listener', async () => {
    const t = await startTestApp({
      create: () => createPostgresDatabase(postgres.value),
      env: { TOKEN_CACHE_SECONDS: '0' },
    })
    apps.push(t)
    await sleep(300)
    assert.equal(await listenersOn(t.store.url), 0)
  })
})
